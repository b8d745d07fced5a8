import ArgumentParser
import FoundationEssentials
import SmartSyncObjectStore
import SmartSyncPipeline

struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove store objects that no target, generation, kept version or pin needs.",
        discussion: """
            Marks every root, then removes the objects nothing marked, under the store lock held exclusively \
            (it waits --wait seconds for running syncs; a sync that starts meanwhile waits for gc). Roots: each \
            target's last sync (manifest, --keep-local entries, an interrupted apply's intent), its kept \
            generations, kept local versions younger than --keep-local-age, commits pinned with `warm --pin`, and \
            the commit and tree objects of those commits (the pack transport lists from them and says `have` for \
            them). Objects younger than --grace (by ctime) are kept whatever the roots say, and so are objects a \
            file outside the store still links (removing them frees nothing). Targets of every state directory \
            that used the store count, not only --state-dir's.

            Also removed: leftovers in tmp/ older than --grace (never a file a running process holds locked), \
            partial downloads not resumed for 7 days (or whose object is complete), quarantined objects nothing \
            else links after 30 days, kept-version records older than --keep-local-age, and the state of targets \
            that are gone: a target whose directory and generations no longer exist and which has no kept version \
            younger than --keep-local-age (its next sync treats the files it finds as the operator's).

            Defaults come from the [store] table of --config (default /etc/smart-sync/config.toml): gc_grace, \
            keep_local_age, max_size (for sync and update --max-size).

            EXAMPLES:
              smart-sync gc --dry-run              # list what would go
              smart-sync gc --dry-run --json       # a remove event per item, then a summary

            \(ExitCodes.help)
            """)

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "List what would be removed (and states forgotten); remove nothing.")
    var dryRun = false

    @Option(
        name: .long, help: ArgumentHelp("Keep objects younger than this (default 1h; 30m, 2h, 1d).", valueName: "age"))
    var grace: Age?

    @Option(
        name: .long,
        help: ArgumentHelp("Keep local versions younger than this (default 90d).", valueName: "age"))
    var keepLocalAge: Age?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for running syncs (0: fail at once).", valueName: "s"))
    var wait: Int = 600

    @OptionGroup var output: OutputOptions

    @OptionGroup var metrics: MetricsOptions

    func validate() throws {
        if wait < 0 { throw ValidationError("--wait must be zero or more seconds (got \(wait)).") }
    }

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        try await RunContext.guarded(reporter) {
            let settings = try common.settings()
            var options = StoreGC.Options()
            options.grace = grace?.seconds ?? settings.gcGrace
            options.keepLocalAge = keepLocalAge?.seconds ?? settings.keepLocalAge
            options.dryRun = dryRun
            options.lockWait = .seconds(wait)
            options.logger = output.logger(reporter)
            let store = try common.openStore(settings)
            let state = try common.openState(settings)
            try await Self.collect(store: store, state: state, options: options, reporter: reporter, event: "summary")
            if let file = metrics.metricsFile {
                try MetricsWriter(state: state, storeDirectory: store.root).write(to: file)
            }
        }
    }

    /// Runs gc and reports it (`event`: the name of the final JSON event).
    static func collect(
        store: ObjectStore, state: StateStore, options: StoreGC.Options, reporter: Reporter, event: String
    ) async throws {
        let started = Date()
        let report = try await StoreGC(store: store, state: state).run(
            options, onWait: { reporter.note("gc: waiting for running syncs to finish: \($0)") },
            visit: { reporter.gcRemoval($0, dryRun: options.dryRun) })
        reporter.gcSummary(report, seconds: Date().timeIntervalSince(started), event: event)
        if !options.dryRun {
            do {
                try await state.recordGC(store: StateStore.normalize(store.root), freedBytes: report.freedBytes)
            } catch {
                reporter.handle(.warning("gc's freed bytes were not counted for the metrics: \(error)"))
            }
        }
    }
}
