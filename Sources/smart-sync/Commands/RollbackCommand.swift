import ArgumentParser
import FoundationEssentials
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncWorkflow

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Swap a previous tree of a target back in, atomically and with no network.",
        discussion: """
            Each sync that changes a target keeps the tree it replaced (the last 3, beside the target in \
            .NAME.smart-sync/generations). rollback exchanges one of them with the target in one rename, \
            carrying over files smart-sync did not put there, and keeps the outgoing tree as a generation in \
            turn (so a rollback can be rolled back).

            EXAMPLES:
              smart-sync rollback --target /etc/hypervisor --list
              smart-sync rollback --target /etc/hypervisor               # to the previous tree
              smart-sync rollback --target /etc/hypervisor --to 1e10e73f  # to a kept commit
              smart-sync rollback hypervisor      # a configured target

            \(ExitCodes.help)
            """)

    @Argument(help: ArgumentHelp("A target of the config file ([target.NAME]).", valueName: "name"))
    var name: String?

    @Option(
        name: .long, help: ArgumentHelp("The synced directory. Default: the named target's path.", valueName: "dir"))
    var target: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A kept commit (SHA prefix) or generation number. Default: the most recent.", valueName: "commit"))
    var to: String?

    @Flag(name: .long, help: "List the kept generations and change nothing.")
    var list = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How generation files written in place since they were kept are replaced from the store (as for sync).",
            valueName: "mode"))
    var linkMode: LinkMode?

    @Option(name: .long, help: "Previous trees kept beside the target, the outgoing one included (default: 3).")
    var keepGenerations: Int?

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    @OptionGroup var metrics: MetricsOptions

    func validate() throws {
        if let name, !ConfiguredTarget.isValidName(name) {
            throw ValidationError(
                "rollback takes a target's NAME from the config file (got '\(name)'); for a directory give "
                    + "--target DIR.")
        }
        if let keepGenerations, keepGenerations < 0 || keepGenerations > 100 {
            throw ValidationError("--keep-generations must be between 0 and 100 (got \(keepGenerations)).")
        }
    }

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        try await RunContext.guarded(reporter) {
            let resolver = try TargetResolver(common)
            let configured = try name.map { try resolver.target(named: $0) }
            let target = try TargetResolver.path(self.target, configured, command: "rollback")
            if list { return try listGenerations(of: target, reporter) }
            let recorder = RunRecorder(
                command: "rollback", target: target, common: common, resolver: resolver, configured: configured,
                metrics: metrics)
            try await recorder.recording(reporter) {
                try await rollback(target, configured, resolver, recorder, reporter)
            }
        }
    }

    private func listGenerations(of target: String, _ reporter: Reporter) throws {
        for g in try Rollback.generations(target: target) {
            let commit = g.state?.commit.hex ?? "(the tree found before the first sync)"
            if output.json {
                var object: [String: Any] = ["event": "generation", "sequence": g.sequence, "tree": g.tree]
                if let state = g.state {
                    object["commit"] = state.commit.hex
                    object["ref"] = state.ref
                }
                reporter.writeJSONLine(object)
            } else {
                StandardStream.output.write("\(g.sequence)\t\(commit)\t\(g.state?.ref ?? "")\n")
            }
        }
    }

    private func rollback(
        _ target: String, _ configured: ConfiguredTarget?, _ resolver: TargetResolver, _ recorder: RunRecorder,
        _ reporter: Reporter
    ) async throws {
        let state = try common.openState(resolver.settings)
        let objects = try common.openStore(resolver.settings)
        // Held shared while Rollback takes its own: a gc in progress is waited for here, not refused there.
        let storeLock = try await objects.lock(shared: true, waitingUpTo: .seconds(600)) { _ in
            reporter.note("rollback: waiting for smart-sync gc to finish with the store")
        }
        defer { storeLock.release() }
        let outcome: Rollback.Outcome
        var failed: FailedAfterSwitch<Rollback.Outcome>?
        do {
            outcome = try Rollback.run(
                target: target, to: to, state: state, store: objects,
                keepGenerations: keepGenerations ?? configured?.keepGenerations ?? 3,
                linkMode: linkMode ?? configured?.linkMode ?? resolver.settings.linkMode ?? .auto,
                events: { reporter.handle($0) })
        } catch let error as FailedAfterSwitch<Rollback.Outcome> {
            // The generation's tree is in place; the summary says so, then the error (exit code 8).
            outcome = error.outcome
            failed = error
            recorder.failed(error.error)
        }
        recorder.update {
            $0.from = outcome.from?.hex
            $0.to = outcome.to?.hex
            $0.rollback = true
        }
        let from = outcome.from?.abbreviated() ?? "untracked tree"
        let to = outcome.to?.abbreviated() ?? "the tree found before the first sync"
        if output.json {
            var object: [String: Any] = [
                "event": "summary", "command": "rollback", "target": target, "carried": outcome.carried,
            ]
            if let f = outcome.from { object["from"] = f.hex }
            if let t = outcome.to { object["to"] = t.hex }
            object["repaired"] = outcome.repaired.map(\.description)
            object["kept"] = outcome.kept.map(\.path.description)
            if let failed { object["failedAfterSwitch"] = failed.step.rawValue }
            reporter.writeJSONLine(object)
        } else if !output.quiet {
            StandardStream.error.write(
                "rollback: \(target) \(from) → \(to); \(outcome.carried) operator file(s) carried over\n")
            if !outcome.repaired.isEmpty {
                let list = outcome.repaired.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
                StandardStream.error.write(
                    "rollback: \(outcome.repaired.count) file(s) of the generation had been written in place since it "
                        + "was kept and were replaced from the store (what they held was kept: smart-sync restore): "
                        + "\(list)\n")
            }
        }
        if let failed {
            reporter.fail(failed.error, switched: true)
            throw ExitCode(ExitCodes.switchedThenFailed)
        }
    }
}
