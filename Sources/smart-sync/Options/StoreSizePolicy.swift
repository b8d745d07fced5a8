import ArgumentParser
import FoundationEssentials
import SmartSyncCore
import SmartSyncObjectStore
import SmartSyncPipeline

/// `--max-size` for `sync` and `update`.
struct StorePolicyOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            After a successful sync, run gc when the store's own data (objects no target links, partials, \
            temporaries) exceeds SIZE (512M, 20G). Default: max_size in the [store] table of the config file.
            """,
            valueName: "size"))
    var maxSize: ByteCount?
}

/// The size policy: after a sync, gc when the store holds more than its limit.
enum StoreSizePolicy {
    /// Runs gc when the store's own disk usage exceeds `--max-size` (or the config's `max_size`). Called after the
    /// sync released its shared lock, with the `settings` the run read before it synced (``RunContext/settings``);
    /// gc does not wait for the exclusive lock (another run in progress: skipped, with a notice). Never fails the
    /// sync: problems are warnings.
    static func apply(maxSize: ByteCount?, settings: FileSettings, runner: SyncRunner, reporter: Reporter) async {
        guard let limit = maxSize?.bytes ?? settings.maxSize else { return }
        let usage = runner.store.ownDiskUsage()
        guard usage > limit else { return }
        reporter.note(
            "the store holds \(Reporter.bytes(usage)) of its own, over the limit of \(Reporter.bytes(limit)): "
                + "running gc")
        var options = StoreGC.Options()
        options.grace = settings.gcGrace
        options.keepLocalAge = settings.keepLocalAge
        options.lockWait = .zero
        options.logger = runner.logger
        do {
            try await GCCommand.collect(
                store: runner.store, state: runner.state, options: options, reporter: reporter, event: "gc")
        } catch let error as SmartSyncError where error.code == .locked {
            reporter.handle(
                .warning("gc skipped: another smart-sync run is using the store; the next sync tries again"))
        } catch {
            reporter.handle(.warning("gc after the sync failed: \((error as? SmartSyncError)?.text ?? "\(error)")"))
        }
    }
}
