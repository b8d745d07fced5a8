import SmartSyncCore

extension SyncRunner {
    /// The end of a run that applies nothing: the excludes it may record, the stat cache when the scan hashed or
    /// missed something, and the run's tables of every path freed off the run's path.
    func finishNoOp(
        _ previous: TargetState?, previousManifest: Manifest, listing: CommitListing, scan: TargetScanner.Result,
        excludes: ExcludeSet, target: String
    ) throws {
        // (A listing that is the manifest is of a state applied with no exclude this run lacks: nothing to record.)
        if case .listed(let listed) = listing.entries {
            recordExcludesOfNoOp(previous, listing: listed, excludes: excludes)
        }
        // Nothing to write; still remember what the scan hashed so the next run does not hash it again (a scan
        // that hashed nothing and found every cached file again leaves the cache as it was: no write, no fsync).
        if scan.statistics.filesHashed > 0 || scan.cache.entries.count != scan.statistics.cacheHits {
            var cache = scan.cache
            try state.saveStatCache(&cache, target: target)
        }
        // Nothing reads the run's tables of every path now (the manifest, the listing, the scan's table and stat
        // cache): they are freed on a thread of their own, not on the way to the run's end (~1.4 ms of
        // `swift_arrayDestroy` at 20,000 files, BENCHMARKS "noop7"). A process that exits next does not wait for
        // that; one that goes on (`sync --all`, a library caller) has them freed all the same. (No thread to be
        // had: they are freed as the run returns, as before; a run that succeeded does not trap for memory.)
        let tables = (previous, previousManifest, listing, scan)
        _ = DedicatedThread.startIfPossible(name: "ss-free-tables") { withExtendedLifetime(tables) {} }
    }
}
