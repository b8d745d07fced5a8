import FoundationEssentials
import Glibc
import Logging
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncGitProtocol
import SmartSyncObjectStore
import Synchronization

extension GitPackSource {
    /// Fetches the blobs a listing's pack did not bring.
    ///
    /// - Blobs the filter left out, or known to be over the threshold, go one per request through ``raw`` (resumable).
    /// - When the listing came from the store with nothing of the commit's content (after a `plan`, say), the commit's
    ///   pack is asked for as the listing would have (deltas against the `have`s, the filter keeping large blobs out).
    /// - The rest (after an interrupted pack, say) come in one pack of exactly those blobs.
    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        await salvageSpools()
        var seen = Set<ObjectID>()
        var missing = blobs.filter { seen.insert($0.id).inserted && !store.contains($0.id) }
        guard !missing.isEmpty else { return FetchReport() }
        var report = FetchReport()

        if raw != nil, missing.contains(where: { $0.size == nil }),
            !state.withLock({ $0.packedWithBlobs.contains(ref.commit) })
        {
            let capabilities = try await remember { try await client.capabilities() }
            let listing = try? StoredTrees.listing(commit: ref.commit, in: store)
            if capabilities.supportsFilter,
                !partlyReceived(ref, listing: listing, missing: missing.count, capabilities: capabilities)
            {
                state.withLock { _ = $0.packedWithBlobs.insert(ref.commit) }
                let before = missing.count
                try await fetchCommitPack(
                    ref, filter: "blob:limit=\(largeBlobThreshold)", capabilities: capabilities,
                    closure: PackBudget.closureSize(listing: listing))
                missing = missing.filter { !store.contains($0.id) }
                // What the filtered pack left out is over the threshold.
                state.withLock { $0.filteredOut.formUnion(missing.map(\.id)) }
                report.blobsFetched += before - missing.count
            }
        }

        // Missing after the commit's filtered pack (every want is of `ref`'s tree, and missing): left out as too large.
        let (filteredOut, filtered) = state.withLock { ($0.filteredOut, $0.filteredCommits.contains(ref.commit)) }
        let large = missing.filter { want in
            raw != nil && (filtered || filteredOut.contains(want.id) || (want.size ?? 0) > largeBlobThreshold)
        }
        let largeIDs = Set(large.map(\.id))
        let small = missing.filter { !largeIDs.contains($0.id) }

        logger.debug(
            "fetch: \(small.count) blobs in a pack, \(large.count) one per request over the per-blob path",
            metadata: ["largeBlobThreshold": "\(largeBlobThreshold)"])
        if let raw, !large.isEmpty {
            let viaRaw = try await onRawPath { try await raw.fetch(large, of: ref, into: store, progress: progress) }
            report.blobsFetched += viaRaw.blobsFetched
            report.bytesReceived += viaRaw.bytesReceived
            report.refetched += viaRaw.refetched
        }
        if !small.isEmpty {
            let received = try await fetchBlobPack(small, of: ref)
            report.bytesReceived += received
            progress.bytes(received)
            for want in small {
                progress.blobDone(want)
                report.blobsFetched += 1
            }
        }
        return report
    }

    /// One pack of exactly `blobs` (`want <blob>` lines), with deltas against the `have`s where the server finds them.
    /// A pack that does not fit those `have`s (its deltas need an object the store lacks, or it leaves out blobs the
    /// server counts among what they reach: the store lost them, or knew them only under an excluded path) is asked
    /// for once more without them (``receivePackFittingHaves(_:what:budget:check:)``), for the missing blobs alone.
    ///
    /// - Returns: the bytes received.
    private func fetchBlobPack(_ blobs: [BlobWant], of ref: ResolvedRef) async throws -> Int {
        let capabilities = try await remember { try await client.capabilities() }
        let haves = usableHaves(excluding: ref.commit, capabilities: capabilities)
        let request = PackRequest(wants: blobs.map(\.id), haves: haves, shallows: haves)
        let what = "\(blobs.count) blob\(blobs.count == 1 ? "" : "s")"
        return try await receivePackFittingHaves(request, what: what, budget: PackBudget.blobs(blobs)) {
            let missing = blobs.filter { !store.contains($0.id) }
            if !missing.isEmpty {
                throw MissingWants(missing.map { (id: $0.id, name: "blob \($0.id) ('\($0.path)')") })
            }
        }.bytes
    }

    /// Whether some of the content `ref` adds over the `have`s is already in the store (an interrupted pack left it):
    /// then only the missing blobs are asked for, rather than the commit's pack again.
    private func partlyReceived(
        _ ref: ResolvedRef, listing: TreeListing?, missing: Int, capabilities: UploadPackCapabilities
    ) -> Bool {
        guard let listing else { return true }
        var old = Set<ObjectID>()
        for have in usableHaves(excluding: ref.commit, capabilities: capabilities) {
            for file in (try? StoredTrees.listing(commit: have, in: store))?.files ?? [] { old.insert(file.id) }
        }
        let added = Set(listing.files.lazy.map(\.id).filter { !old.contains($0) })
        return added.count > missing
    }
}
