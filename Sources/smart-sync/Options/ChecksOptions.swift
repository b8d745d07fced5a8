import ArgumentParser
import FoundationEssentials
import SmartSyncPipeline
import SmartSyncCore
import SmartSyncValidation
import SmartSyncWorkflow

/// Where `validate` and `update` find their checks (the config file itself is ``CommonOptions/config``).
struct ChecksOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Resolve absolute host paths under this directory.", valueName: "dir"))
    var root: String = "/"

    /// `--root`, normalized.
    var rootPath: String { root == "/" ? "/" : StateStore.normalize(root) }

    /// The checks: `config` (`--config`), else the default file under `--root` when it exists, else the built-in ones.
    func load(config: String?) throws -> ValidationConfig {
        if let config { return try ValidationConfig.load(path: config) }
        let defaultFile = ValidationContext(target: "/", root: rootPath).hostPath(ValidationConfig.defaultFile)
        if FileManager.default.fileExists(atPath: defaultFile) { return try ValidationConfig.load(path: defaultFile) }
        return ValidationConfig()
    }

    /// The checks a configured target's `checks` key picks from `config` (as ``load(config:)`` found it): nil keeps
    /// them; `builtin` the built-in ones; `config` the file's own `[[check]]` entries (none is an error); `none` none.
    static func select(_ choice: ConfiguredTarget.Checks?, from config: ValidationConfig, for target: ConfiguredTarget?)
        throws -> ValidationConfig
    {
        guard let choice else { return config }
        var config = config
        switch choice {
        case .builtin: config.checks = BuiltinChecks.hypervisor()
        case ConfiguredTarget.Checks.none: config.checks = []
        case .config:
            guard !config.fileChecks.isEmpty else {
                throw SmartSyncError(
                    .invalidArgument,
                    "\(target.map { "\($0.file):\($0.line)" } ?? "config"): [target.\(target?.name ?? "")] checks = "
                        + "\"config\", but the config file has no [[check]] entries",
                    hint: "add [[check]] tables to the config file, or write checks = \"builtin\" or \"none\"")
            }
            config.checks = config.fileChecks
        }
        return config
    }
}
