import Logging
import SmartSyncCore
import Synchronization
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncObjectStore
import SmartSyncTransfer

extension MirrorSource {
    /// A cold store takes the commit's pack rather than one request per blob: at least this many blobs missing…
    static let packMinimumBlobs = 64

    /// The pack rule: the commit was listed through this mirror, and the store lacks at least
    /// ``packMinimumBlobs`` of its distinct blobs and at least half of them. Below that, per-object requests fetch
    /// only what is new, where the pack would bring the whole tree again (a mirror's packs are not deltas against
    /// what a host has).
    func shouldTakePack(_ missing: Int, of commit: ObjectID) -> Bool {
        guard let listed = state.withLock({ $0.listed[commit] }) else { return false }
        return missing >= Self.packMinimumBlobs && missing * 2 >= listed.blobs
    }

    /// Downloads `packs/<commit>.pack` into a resumable spool (``MirrorPackSpool``) and imports it, held to what the
    /// commit reaches (every object hashed as it is stored). A pack the mirror lacks (404), that breaks off, or that
    /// fails to import is not the run's failure: the blobs still missing go one per request. Local problems and the
    /// run's limits are thrown.
    func fetchPack(_ wanted: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        let url = url("packs/" + ref.commit.hex + ".pack")
        let key = ObjectID.hash(.blob, Array(baseURL.utf8)).abbreviated(16)
        let path = store.temporaryDirectory + "/mirror-pack-" + ref.commit.hex + "-" + key
        // The listing's sizes are only a hint: a pack over them is refused as malformed, and the blobs go one by one.
        let listed = state.withLock { $0.listed[ref.commit] }
        let limit = listed.map { PackBudget.bound(bytes: $0.bytes, objects: $0.objects ?? $0.blobs) }
        guard let spool = try MirrorPackSpool(path: path, limit: limit ?? MirrorPackSpool.sizeLimit) else {
            logger.debug(
                "mirror \(baseURL): another run holds the pack spool of \(ref.commit.abbreviated()); per object")
            return FetchReport()
        }
        logger.debug(
            "mirror \(baseURL): \(wanted.count) blobs missing, a cold store: taking the commit's pack",
            metadata: ["mirror": "\(baseURL)", "resumeFrom": "\(spool.keptBytes)"])
        var report = FetchReport()
        // The blobs the pack brought, each hashed as it was stored (a pack that breaks off keeps those before it).
        func countStored() {
            for want in wanted where store.contains(want.id) {
                report.blobsFetched += 1
                progress.blobDone(want)
            }
        }
        do {
            let response = try await download.run(url, hostKind: HostKind.mirror.rawValue, into: spool)
            report.bytesReceived = spool.received
            progress.bytes(spool.received)
            guard (200..<300).contains(response.status), spool.isComplete else {
                if response.status == 404 || response.status == 410 { spool.remove() }
                let commit = ref.commit.abbreviated()
                logger.debug(
                    "mirror \(baseURL): no usable pack for \(commit) (HTTP \(response.status)); per object",
                    metadata: ["mirror": "\(baseURL)"])
                return report
            }
            let limits = PackBudget.commit(ref.commit, filter: nil, history: false, closure: listed?.objects).limits
            let imported = try await GitPackSource.startImport(
                spool.path, into: store, arrival: nil, limits: limits, budget: storeBudget
            ).value
            spool.remove()
            state.withLock {
                $0.usedPack = true
                $0.stats.packRequests += 1
                $0.stats.packObjects += imported.objects
            }
            countStored()
            logger.debug(
                "mirror \(baseURL): pack of \(ref.commit.abbreviated()) imported, \(imported.objects) objects",
                metadata: ["mirror": "\(baseURL)", "bytes": "\(report.bytesReceived)"])
            return report
        } catch let error as SmartSyncError {
            if [.io, .locked, .cancelled, .limitExceeded].contains(error.code) { throw error }
            if [.integrity, .malformedResponse, .notFound].contains(error.code) { spool.remove() }
            countStored()
            // Down, failing or throttling: the blobs go to the next source rather than one by one to this mirror.
            if let reason = Self.downReason(error) { throw SourceFailure(reason, error, report: report) }
            notice(
                "the pack of commit \(ref.commit.abbreviated()) from the mirror \(baseURL) failed (\(error.message)); "
                    + "fetching its blobs one by one")
            return report
        }
    }
}
