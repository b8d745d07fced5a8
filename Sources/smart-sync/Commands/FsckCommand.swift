import ArgumentParser
import FoundationEssentials
import Logging
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncWorkflow

struct FsckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Re-hash every store object, quarantine damaged ones, and with --repair fetch them again.",
        discussion: """
            Every object under objects/ is hashed again on all cores (as a blob, then as a tree, commit or tag: \
            the store keeps no kind; executable twins must hold their object's content) and its seal checked \
            (permissions 0444 or 0555, owner, the sealed modification time). Damaged content (a flipped byte, a \
            write through a target's hardlink) is moved to <store>/quarantine/ with a note of why; target files \
            linking it keep their inode. Intact content with a broken seal (a chmod or touch through a hardlink) \
            is sealed again. Then the quarantine is compared with \
            the roots (as gc finds them): an object a target, generation, kept version or pin needs and the store \
            now lacks is reported. With --repair those come back: from the quarantined copy when its content is \
            still intact, else from the source (OWNER/REPO or --source, as for sync). A kept local version whose \
            only copy was damaged cannot be fetched.

            Runs under the store lock held shared (syncs go on; gc waits). Exit 0: every object intact and \
            nothing a root needs missing. Exit 2: damage was found and the store is whole again (the damaged \
            objects quarantined, each one a root needs back, or none needed). Exit 3: damage was found and \
            something a root needs is still missing (run fsck --repair; the message says what could not be \
            repaired and why). A target's sidecar or switch journal that gc would stop at is warned about and \
            its roots left out; with nothing missing, fsck then exits 6 (a sidecar that is a symlink or another \
            user's, or a damaged journal), not 0 or 2. Exit 7: gc held the store past --wait.

            EXAMPLES:
              smart-sync fsck
              smart-sync fsck MasterofNull/Hyper-NixOS --repair
              smart-sync fsck --source /srv/hypervisor.git --repair --json

            \(ExitCodes.help)
            """)

    @OptionGroup var source: SourceOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "Bring back the quarantined objects a root needs (needs OWNER/REPO or --source).")
    var repair = false

    @Option(name: .long, help: ArgumentHelp("Hashing threads (default: one per CPU).", valueName: "n"))
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait while gc holds the store.", valueName: "s"))
    var wait: Int = 600

    func validate() throws {
        if repair && !source.hasSource {
            throw ValidationError("--repair needs the source: OWNER/REPO or --source PATH.")
        }
        if let threads, threads < 1 || threads > 256 {
            throw ValidationError("--threads must be between 1 and 256 (got \(threads)).")
        }
        if wait < 0 { throw ValidationError("--wait must be zero or more seconds (got \(wait)).") }
    }

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        var code = ExitCodes.success
        try await RunContext.guarded(reporter) {
            let started = Date()
            let resolver = try TargetResolver(common)
            let configured = try resolver.target(forArgument: self.source.repository)
            var source = self.source
            if let configured { TargetResolver.apply(configured, to: &source) }
            let context =
                repair
                ? try await RunContext.make(
                    source, common, output, reporter, settings: resolver.settings, tokenFile: configured?.tokenFile)
                : nil
            defer { context?.opened.close() }
            let store = try context?.runner.store ?? common.openStore(resolver.settings)
            let state = try context?.runner.state ?? common.openState(resolver.settings)
            let lock = try await store.lock(shared: true, waitingUpTo: .seconds(wait)) {
                reporter.note("fsck: waiting for gc to finish: \($0)")
            }
            defer { lock.release() }

            let threads = self.threads
            let logger = context?.runner.logger ?? output.logger(reporter)
            let report = try await logger.timed("hash") {
                try await DedicatedThread.run(name: "ss-fsck") { store.fsck(threads: threads) }
            }
            for finding in report.findings {
                let action = try store.mend(finding)
                let object = finding.id.abbreviated() + (finding.isTwin ? " (twin)" : "")
                let done = action ?? "nothing done (unreadable, or gone)"
                logger.debug("fsck: object \(object): \(finding.problem.name) → \(done)")
                reporter.fsckFinding(finding, action: action)
            }
            var states = [state]
            for (root, _) in StoreUsers(store: store).list()
            where StateStore.normalize(root) != StateStore.normalize(state.root)
                && FileSystem.exists(root + "/targets")
            {
                states.append(try StateStore(root: root))
            }
            // Every kept version still in its log counts: gc has not expired it. A sidecar or switch journal that
            // cannot be used is warned about and fsck goes on: it has nothing to gain from the journal's pending
            // versions. It still decides the exit code: the roots fsck vouches for were not all read.
            let unread = Locked<Set<String>>([])
            let roots = StoreRoots(
                store: store, states: states, keptSinceNs: 0,
                policy: .warn { target, error in
                    unread.withLock { _ = $0.insert(target) }
                    reporter.handle(.warning("fsck: \(error.text)"))
                })
            let repairer = StoreRepair(store: store, roots: roots)
            let needs = try logger.timed("roots") { try repairer.needs() }
            logger.debug("fsck: \(needs.count) objects the roots need are missing", metadata: ["repair": "\(repair)"])
            var outcome: StoreRepair.Outcome?
            if let context {
                outcome =
                    needs.isEmpty
                    ? StoreRepair.Outcome()
                    : await logger.timed("repair") { await repairer.repair(needs, source: context.runner.source) }
            }
            let missing = outcome?.unrepaired.count ?? needs.count
            let unreadRoots = unread.withLock { $0.sorted() }
            reporter.fsckSummary(
                report, needs: needs, outcome: outcome, unreadRoots: unreadRoots,
                seconds: Date().timeIntervalSince(started))
            if missing > 0 {
                code = ExitCodes.changesPending
            } else if !unreadRoots.isEmpty {
                // Nothing found missing, but not every root was read: never 0 or 2; one code whatever was refused (a
                // damaged journal's own code, 1, would read as fsck itself failing).
                code = ExitCodes.refused
            } else if !report.findings.isEmpty || !needs.isEmpty {
                code = ExitCodes.repaired
            }
        }
        if code != ExitCodes.success { throw ExitCode(code) }
    }
}
