import SmartSyncCore

extension SyncRunner {
    /// The end of a run that applies nothing: the excludes it may record, the stat cache when the scan hashed or
    /// missed something, and the run's tables of every path freed off the run's path (the scan's taken out of `scan`,
    /// left empty).
    func finishNoOp(
        _ previous: consuming TargetState?, previousManifest: consuming Manifest, listing: consuming CommitListing,
        scan: inout TargetScanner.Result, excludes: ExcludeSet, target: String
    ) throws {
        // (A listing that is the manifest is of a state applied with no exclude this run lacks: nothing to record.)
        if case .listed(let listed) = listing.entries {
            recordExcludesOfNoOp(previous, listing: listed, excludes: excludes)
        }
        // The scan's table and cache, taken out of the caller's result (a `consume` of it is refused by Swift 6.3.1:
        // "consume applied to value that the compiler does not support").
        var tree = LocalTree()
        var cache = StatCache()
        swap(&tree, &scan.tree)
        swap(&cache, &scan.cache)
        // Nothing to write; still remember what the scan hashed so the next run does not hash it again (a scan
        // that hashed nothing and found every cached file again leaves the cache as it was: no write, no fsync).
        if scan.statistics.filesHashed > 0 || cache.entries.count != scan.statistics.cacheHits {
            try state.saveStatCache(&cache, target: target)
        }
        // Nothing reads the run's tables of every path now (the previous state, the manifest, the listing, the
        // scan's table and stat cache): they are freed on a thread of their own, not on the way to the run's end
        // (~10 M instructions of releases at 20,000 files, BENCHMARKS "noop9load"). Moved there, not copied: the
        // caller passed them consumed, and no reference stays here, so the last release is the thread's whenever it
        // runs (a copy left here made the thread's release a mere decrement and the free this run's, on its
        // return). A process that exits next does not wait for that; one that goes on (`sync --all`, a library
        // caller) has them freed all the same, maybe while it loads its next target. (No thread to be had: they are
        // freed as the run returns, as before.)
        DedicatedThread.release(
            (consume previous, consume previousManifest, consume listing, consume tree, consume cache),
            name: "ss-free-tables")
    }
}
