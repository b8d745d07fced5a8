import ArgumentParser
import SmartSyncCore
import SmartSyncWorkflow

/// Finds the config file's targets (`[target.NAME]`) by name and lays their values under the command line's flags.
///
/// Precedence, highest first: a flag; the target's table; the `[sync]` and `[store]` tables; the built-in default.
/// A command's positional argument names a target when it has no `/` (`owner/repo` is always a repository). The
/// `status` command and the metrics use the same resolution: ``target(named:)``, ``targets``, and the store and
/// state directories of ``CommonOptions``.
struct TargetResolver {
    /// The config file's settings, targets included.
    let settings: FileSettings

    init(settings: FileSettings) { self.settings = settings }

    /// Reads the config file the common options name.
    init(_ common: CommonOptions) throws { self.init(settings: try common.settings()) }

    /// Every configured target, in name order.
    var targets: [ConfiguredTarget] { settings.targets }

    /// True when a positional argument names a target rather than a repository: it has no `/`.
    static func isTargetName(_ argument: String?) -> Bool {
        guard let argument else { return false }
        return !argument.contains("/")
    }

    /// The target called `name`; an unknown name is an error listing the configured ones.
    func target(named name: String) throws -> ConfiguredTarget {
        if let found = targets.first(where: { $0.name == name }) { return found }
        let file = settings.file ?? "/etc/smart-sync/config.toml (not present)"
        let known = targets.map(\.name).joined(separator: ", ")
        throw SmartSyncError(
            .invalidArgument,
            "no target named '\(name)' in \(file); "
                + (known.isEmpty ? "it configures no targets" : "configured: \(known)"),
            hint:
                "a repository is written OWNER/REPO; a target is declared as [target.\(name)] in the config file "
                + "(--config FILE)")
    }

    /// The target a positional argument names, or nil when it is a repository (or absent).
    func target(forArgument argument: String?) throws -> ConfiguredTarget? {
        guard let argument, Self.isTargetName(argument) else { return nil }
        return try target(named: argument)
    }

    /// The targets `--all` runs: every one, in name order; none is an error.
    func allTargets() throws -> [ConfiguredTarget] {
        guard !targets.isEmpty else {
            throw SmartSyncError(
                .invalidArgument, "--all: \(settings.file ?? "no config file was found, so it") configures no targets",
                hint: "declare targets as [target.NAME] tables in /etc/smart-sync/config.toml (or --config FILE)")
        }
        return targets
    }

    /// `source` with the target's values where no flag gave one. The positional argument was the target's name, so
    /// the repository comes from the table unless `--source` was given.
    static func apply(_ t: ConfiguredTarget, to source: inout SourceOptions) {
        if source.source == nil {
            source.repository = t.repository
            source.source = t.source
        } else {
            source.repository = nil
        }
        source.apiURL = source.apiURL ?? t.apiURL
        source.rawURL = source.rawURL ?? t.rawURL
        source.keepGenerations = source.keepGenerations ?? t.keepGenerations
        source.linkMode = source.linkMode ?? t.linkMode
        source.network.transport = source.network.transport ?? t.transport
        source.network.gitURL = source.network.gitURL ?? t.gitURL
        if source.mirrors.isEmpty { source.mirrors = t.mirrors }
        source.trustedKey = source.trustedKey ?? t.trustedKey
    }

    /// `options` with the target's ref and path where no flag gave them; `--exclude` adds to the table's list (a
    /// flag never un-excludes what the file protects).
    static func apply(_ t: ConfiguredTarget, to options: inout TargetOptions) {
        options.ref = options.ref ?? t.ref
        options.target = options.target ?? t.path
        options.exclude = t.excludes + options.exclude.filter { !t.excludes.contains($0) }
    }

    /// The options of one run: `configured`'s values under the flags (none: the flags alone), and the directory.
    static func resolve(
        _ configured: ConfiguredTarget?, _ source: SourceOptions, _ target: TargetOptions, command: String
    ) throws -> (source: SourceOptions, target: TargetOptions, path: String) {
        var source = source
        var target = target
        if let configured {
            apply(configured, to: &source)
            apply(configured, to: &target)
        }
        return (source, target, try path(target.target, configured, command: command))
    }

    /// The directory to work on: `--target`, else the target's path; neither is a usage error.
    static func path(_ given: String?, _ configured: ConfiguredTarget?, command: String) throws -> String {
        if let path = given ?? configured?.path { return path }
        throw SmartSyncError(
            .invalidArgument, "\(command): name the directory with --target DIR, or a configured target by NAME")
    }

    /// The worst of several runs' exit codes: 0 when all succeeded; else the highest failure code, where
    /// "changes pending" (3) ranks below every failure.
    static func worst(_ codes: [Int32]) -> Int32 {
        let failures = codes.filter { $0 != ExitCodes.success && $0 != ExitCodes.changesPending }
        if let worst = failures.max() { return worst }
        return codes.contains(ExitCodes.changesPending) ? ExitCodes.changesPending : ExitCodes.success
    }
}
