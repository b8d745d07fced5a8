import ArgumentParser
import FoundationEssentials
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncValidation

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a target and its host: layout, flake, scripts, nix.conf, KVM, tools, integrity, space.",
        discussion: """
            Runs the checks of the config file (TOML; --config FILE, else /etc/smart-sync/config.toml when it \
            exists, else the built-in hypervisor checks) and prints one line per check: pass, warn or fail. \
            Built-in kinds: directory, file, flake, executable, user-config, system-config, nix-features, kvm, \
            network, tool, integrity, ownership, disk-space (see docs/VALIDATION.md for their keys).

            --fix repairs what it can (mkdir, chmod, chown, nix.conf features, files restored from the store as the \
            last sync put them) and says what it did, then checks again. --quick skips the slow checks (integrity) \
            and parses flake.nix structurally instead of with nix-instantiate.

            --root DIR resolves every absolute host path (the config file, the target from the config, \
            /etc/nix/nix.conf, /dev/kvm) under DIR, e.g. a system mounted at /mnt. --target is taken as given.

            EXAMPLES:
              smart-sync validate
              smart-sync validate --fix
              smart-sync validate --config ./checks.toml --quick --json

            EXIT CODES (validate):
              0   every check passed (after --fix, when given)
              1   at least one check failed, or validate itself failed
              2   warnings only
              4   the --config file does not exist
              64  usage error, or an invalid config file (the message names file, line and key)
            """)

    @Option(
        name: .long,
        help: ArgumentHelp("The directory to check (default: the config's target, under --root).", valueName: "dir"))
    var target: String?

    @OptionGroup var checks: ChecksOptions

    @Flag(name: .long, help: "Repair what can be repaired, and report what was done.")
    var fix = false

    @Flag(name: .long, help: "Skip the slow checks (integrity; nix-instantiate).")
    var quick = false

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        var exitCode: Int32 = 0
        try await RunContext.guarded(reporter) {
            let rootPath = checks.rootPath
            let probe = ValidationContext(target: "/", root: rootPath)
            let settings = try checks.load(config: common.config)
            // The store and state of the syncs, and how they place files (restores). A broken [sync], [store] or
            // [target.NAME] table is sync's to report; checks still run.
            let syncSettings = settings.file.flatMap { try? FileSettings.load(path: $0) } ?? FileSettings()
            let storeDir = common.storeDirectory(syncSettings)
            let stateRoot = common.stateDirectory(syncSettings)
            var context = ValidationContext(
                target: target ?? probe.hostPath(settings.target), root: rootPath,
                store: FileSystem.isDirectory(storeDir) ? try ObjectStore(root: storeDir) : nil,
                state: FileSystem.isDirectory(stateRoot) ? try StateStore(root: stateRoot) : nil,
                quick: quick, defaults: settings.defaults)
            if fix, let mode = syncSettings.linkMode { context.linkMode = mode }
            let reports = Validator(checks: settings.checks).run(context, fix: fix) { reporter.check($0) }
            let summary = ValidationSummary(reports)
            reporter.finish(summary, target: context.target, config: settings.file)
            exitCode = summary.exitCode
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }

}

extension Reporter {
    /// Prints one check's line (and its fix), or a `check` event with `--json`. Human lines go to stdout: they
    /// are validate's result.
    func check(_ report: CheckReport) {
        switch mode {
        case .json:
            var object: [String: Any] = [
                "event": "check", "id": report.id, "kind": report.kind.rawValue, "title": report.title,
                "status": report.result.status.rawValue, "message": report.result.message,
                "fixable": report.result.fixable,
            ]
            if !report.result.details.isEmpty { object["details"] = report.result.details }
            if let before = report.before {
                object["before"] = ["status": before.status.rawValue, "message": before.message]
            }
            if let fix = report.fix {
                var f: [String: Any] = ["actions": fix.actions]
                if let failure = fix.failure { f["failure"] = failure }
                object["fix"] = f
            }
            writeJSONLine(object)
        case .quiet:
            break
        case .tty, .plain:
            var lines: [String] = []
            if let before = report.before { lines.append(Self.line(before.status, report.kind, before.message)) }
            for action in report.fix?.actions ?? [] { lines.append("    fixed: \(action)") }
            if let failure = report.fix?.failure { lines.append("    fix failed: \(failure)") }
            lines.append(Self.line(report.result.status, report.kind, report.result.message))
            StandardStream.output.write(lines.map { $0 + "\n" }.joined())
        }
    }

    /// The final counts, or a `summary` event with `--json`.
    func finish(_ summary: ValidationSummary, target: String, config: String?) {
        switch mode {
        case .json:
            var object: [String: Any] = [
                "event": "summary", "command": "validate", "target": target, "passed": summary.passed,
                "warned": summary.warned, "failed": summary.failed, "skipped": summary.skipped,
                "fixed": summary.fixed, "exitCode": Int(summary.exitCode),
            ]
            object["config"] = config ?? "builtin"
            writeJSONLine(object)
        case .quiet:
            break
        case .tty, .plain:
            var text = "validate \(target): \(summary.passed) passed, \(summary.warned) warning"
            text += "\(summary.warned == 1 ? "" : "s"), \(summary.failed) failed"
            if summary.skipped > 0 { text += ", \(summary.skipped) skipped" }
            if summary.fixed > 0 { text += "; \(summary.fixed) fixed" }
            StandardStream.output.write(text + "\n")
        }
    }

    /// Color and Unicode marks on a terminal without `NO_COLOR`; plain ASCII otherwise.
    private static let fancy: Bool =
        isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    static func line(_ status: CheckStatus, _ kind: CheckKind, _ message: String) -> String {
        let mark: String
        let color: String
        switch status {
        case .pass: (mark, color) = (fancy ? "✓" : "+", "32")
        case .warn: (mark, color) = ("!", "33")
        case .fail: (mark, color) = (fancy ? "✗" : "x", "31")
        case .skip: (mark, color) = ("-", "2")
        }
        let head = "\(mark) \(status.rawValue)"
        let painted = fancy ? "\u{1B}[\(color)m\(head)\u{1B}[0m" : head
        return "\(painted)  \(kind.rawValue.padded(to: 14)) \(message)"
    }
}
