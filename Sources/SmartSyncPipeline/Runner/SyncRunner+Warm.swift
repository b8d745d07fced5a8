import FoundationEssentials
import Logging
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

extension SyncRunner {
    /// Fetches every blob of each ref into the store without touching any target; with `pin`, pins each ref's commit
    /// under its name once its blobs are in (``PinStore``), so gc keeps them, with what the commit checks need of it
    /// offline (``pinWarmed(_:listing:pins:)``). `each` is called as each ref is done.
    public func warm(refs: [String?], pin: Bool = false, each: (WarmedRef) -> Void = { _ in }) async throws
        -> [WarmedRef]
    {
        let storeLock = try await lockStore()
        defer { storeLock.release() }
        var results: [WarmedRef] = []
        var pins = await loadPins()
        for ref in refs {
            let started = ContinuousClock.now
            let before = source.statistics
            let resolved = try await logger.timed("resolve") { try await resolve(ref, applied: nil, pins: pins) }
            events(.resolved(resolved))
            // Each ref warmed so far is complete in the store: the next one's pack can be deltas against it.
            let hints = ListingHints(haves: results.reversed().map(\.resolved.commit))
            let listing = try await logger.timed("listing") {
                try await verifiedListing(resolved, previous: nil, hints: hints, pins: pins).listing.treeListing
            }
            var seen = Set<ObjectID>()
            let wants = listing.files.filter { seen.insert($0.id).inserted }.map {
                NeededBlob(id: $0.id, path: $0.path, size: $0.size)
            }
            let missing = wants.filter { !store.contains($0.id) }
            let summary = PlanSummary(counts: ["blobs": wants.count], missing: missing, upToDate: missing.isEmpty)
            events(.planned(summary))
            let report = try await logger.timed("fetch") { try await fetch(missing, of: resolved) }
            logFetch(report)
            // A pack's objects are named unsynced (``ObjectBatch``) and no stage's sync follows here: what is reported
            // (and pinned) as warm is made durable now, for a host that syncs offline from it after a power loss.
            // Every time, not only when `missing` was fetched: the listing's own pack may have brought every blob
            // (``ListingHints/withBlobs``), and an earlier run may have named them unsynced on this file system
            // (a sync whose stage synced another one). A `syncfs` with nothing dirty costs next to nothing.
            try FileSystem.syncFileSystem(containing: store.root)
            if pin {
                pins = try await logger.timed("pin") {
                    try await pinWarmed(resolved.name, listing: listing, pins: pins)
                }
            }
            let elapsed = ContinuousClock.now - started
            results.append(
                WarmedRef(
                    resolved: resolved, report: report, plan: summary, requests: source.statistics.since(before),
                    seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            each(results[results.count - 1])
        }
        return results
    }
}
