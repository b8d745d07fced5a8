import ArgumentParser
import FoundationEssentials
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncWorkflow

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash a target against its last sync and the store objects it links.",
        discussion: """
            Every path the last sync put in the target is hashed again (no stat cache), and so is every store \
            object those paths link: an edit made through a hardlink changes the store object too, and this \
            finds it. Exit 0 when everything is intact, 3 when something differs.

            With --repair, damaged store objects are quarantined and the target is synced back to the same \
            commit: changed files are replaced (their local content kept in the store first) and missing \
            blobs fetched again. --repair needs the source (OWNER/REPO or --source).

            EXAMPLES:
              smart-sync verify --target /etc/hypervisor
              smart-sync verify MasterofNull/Hyper-NixOS --target /etc/hypervisor --repair
              smart-sync verify hypervisor --repair   # a configured target

            \(ExitCodes.help)
            """)

    @OptionGroup var source: SourceOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    @Option(
        name: .long,
        help: ArgumentHelp("The synced directory to check. Default: a configured target's path.", valueName: "dir"))
    var target: String?

    @Flag(name: .long, help: "Quarantine damaged store objects and sync the target back to its last commit.")
    var repair = false

    func validate() throws {
        if repair && !source.hasSource {
            throw ValidationError(
                "--repair needs the source: OWNER/REPO, a configured target's NAME, or --source PATH.")
        }
    }

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        var intact = true
        try await RunContext.guarded(reporter) {
            let resolver = try TargetResolver(common)
            let configured = try resolver.target(forArgument: self.source.repository)
            var source = self.source
            if let configured { TargetResolver.apply(configured, to: &source) }
            let target = try TargetResolver.path(self.target, configured, command: "verify")
            let report: TargetVerifier.Report
            if repair {
                let context = try await RunContext.make(
                    source, common, output, reporter, settings: resolver.settings, tokenFile: configured?.tokenFile)
                defer { context.opened.close() }
                (report, _) = try await context.runner.verify(target: target, repair: true)
            } else {
                let store = try common.openStore(resolver.settings)
                let state = try common.openState(resolver.settings)
                (report, _) = try SyncRunner.verifyOnly(target: target, store: store, state: state)
            }
            reporter.report(report, repaired: repair)
            intact = report.isIntact || repair
        }
        if !intact { throw ExitCode(ExitCodes.changesPending) }
    }
}

extension Reporter {
    /// Prints a verification report: a line per finding, then a summary (or NDJSON events with `--json`).
    func report(_ report: TargetVerifier.Report, repaired: Bool) {
        switch mode {
        case .json:
            for f in report.findings {
                var object: [String: Any] = [
                    "event": "finding", "kind": f.kind.rawValue, "path": f.path.description, "expected": f.expected.hex,
                ]
                if let found = f.found { object["found"] = found.hex }
                writeJSONLine(object)
            }
            for id in report.corruptObjects { writeJSONLine(["event": "corrupt-object", "id": id.hex]) }
            writeJSONLine([
                "event": "summary", "command": "verify", "checked": report.checked, "findings": report.findings.count,
                "corruptObjects": report.corruptObjects.count, "intact": report.isIntact,
                "repaired": repaired && !report.isIntact,
            ])
        case .quiet:
            break
        case .tty, .plain:
            var lines = report.findings.map {
                "  \($0.kind.rawValue.padded(to: 12)) \($0.path)"
            }
            lines += report.corruptObjects.map { "  corrupt-object \($0.hex) (edited through a hardlink)" }
            var summary = "verify: \(report.checked) paths checked; "
            if report.isIntact {
                summary += "intact"
            } else {
                summary +=
                    "\(report.findings.count) differ, \(report.corruptObjects.count) store "
                    + "object\(report.corruptObjects.count == 1 ? "" : "s") damaged"
                summary += repaired ? "; repaired" : "; run with --repair to restore them"
            }
            StandardStream.error.write((lines + [summary]).map { $0 + "\n" }.joined())
        }
    }
}
