import Foundation
import GitObjects
import GitPack
import ObjectStore
import SmartSyncCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
            if capabilities.supportsFilter, !partlyReceived(ref, missing: missing.count, capabilities: capabilities) {
                state.withLock { $0.packedWithBlobs.insert(ref.commit) }
                let before = missing.count
                try await fetchCommitPack(ref, filter: "blob:limit=\(largeBlobThreshold)", capabilities: capabilities)
                missing = missing.filter { !store.contains($0.id) }
                // What the filtered pack left out is over the threshold.
                state.withLock { $0.filteredOut.formUnion(missing.map(\.id)) }
                report.blobsFetched += before - missing.count
            }
        }

        let filteredOut = state.withLock { $0.filteredOut }
        let large = missing.filter { want in
            raw != nil && (filteredOut.contains(want.id) || (want.size ?? 0) > largeBlobThreshold)
        }
        let largeIDs = Set(large.map(\.id))
        let small = missing.filter { !largeIDs.contains($0.id) }

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
                guard store.contains(want.id) else {
                    throw SmartSyncError(
                        .malformedResponse,
                        "the pack from \(repositoryURL) did not contain blob \(want.id) ('\(want.path)'); nothing was changed"
                    )
                }
                progress.blobDone(want)
                report.blobsFetched += 1
            }
        }
        return report
    }

    /// One pack of exactly `blobs` (`want <blob>` lines), with deltas against the `have`s where the server finds them;
    /// asked once more without `have`s when its deltas need an object the store lacks.
    private func fetchBlobPack(_ blobs: [BlobWant], of ref: ResolvedRef) async throws -> Int {
        let capabilities = try await remember { try await client.capabilities() }
        let haves = usableHaves(excluding: ref.commit, capabilities: capabilities)
        var request = PackRequest(wants: blobs.map(\.id), haves: haves, shallows: haves)
        let what = "\(blobs.count) blob\(blobs.count == 1 ? "" : "s")"
        do {
            return try await receivePack(request, what: what)
        } catch let error as SmartSyncError where error.code == .notFound && !haves.isEmpty {
            request.haves = []
            request.shallows = []
            return try await receivePack(request, what: what)
        }
    }

    /// Whether some of the content `ref` adds over the `have`s is already in the store (an interrupted pack left it):
    /// then only the missing blobs are asked for, rather than the commit's pack again.
    private func partlyReceived(_ ref: ResolvedRef, missing: Int, capabilities: UploadPackCapabilities) -> Bool {
        guard let listing = try? StoredTrees.listing(commit: ref.commit, in: store) else { return true }
        var old = Set<ObjectID>()
        for have in usableHaves(excluding: ref.commit, capabilities: capabilities) {
            for file in (try? StoredTrees.listing(commit: have, in: store))?.files ?? [] { old.insert(file.id) }
        }
        let added = Set(listing.files.lazy.map(\.id).filter { !old.contains($0) })
        return added.count > missing
    }

    /// Asks for one pack, spools it beside the store and imports it. When the transfer breaks off, the objects that
    /// arrived whole are imported all the same (a rerun then asks only for the rest) and the transfer's error is thrown.
    ///
    /// The spool is locked (`flock`) while this run owns it, and only then given its `pack-` name: a later run imports
    /// the spool of a run that was killed (``salvageSpools()``), never one that is still being written.
    ///
    /// - Returns: the pack's size in bytes.
    @discardableResult
    func receivePack(_ request: PackRequest, what: String) async throws -> Int {
        let name = "pack-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let staging = store.temporaryDirectory + "/" + name + ".locking"
        let spool = store.temporaryDirectory + "/" + name + ".pack"
        let lockFD = open(staging, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw SmartSyncError.io("open", path: staging) }
        defer {
            unlink(spool)
            unlink(staging)
            closeDescriptor(lockFD)
        }
        guard flock(lockFD, LOCK_EX) == 0, rename(staging, spool) == 0 else {
            throw SmartSyncError.io("lock", path: spool)
        }
        state.withLock { $0.stats.packRequests += 1 }
        // The import runs while the pack arrives (as `git index-pack` does), on a thread of its own; it waits for
        // bytes at the end of the spool until the transfer ends.
        let arrival = PackArrival()
        let importing = Self.startImport(spool, into: store, arrival: arrival)
        var transferError: (any Error)?
        do {
            _ = try await remember {
                try await client.fetch(request, spoolTo: spool, packProgress: { arrival.grew(to: $0) })
            }
        } catch {
            transferError = error
        }
        arrival.finish()
        var st = stat()
        let size = stat(spool, &st) == 0 ? Int(st.st_size) : 0
        do {
            let report = try await importing.value
            state.withLock { $0.stats.packObjects += report.objects }
        } catch let error as SmartSyncError {
            // A broken transfer explains a truncated pack better than the importer does; an empty spool (the
            // request failed before any pack byte) says nothing of its own.
            if transferError == nil {
                capabilityCache.clear()
                throw SmartSyncError(
                    error.code, "the pack for \(what) from \(repositoryURL) was rejected: \(error.message)",
                    cause: error)
            }
        }
        if let transferError {
            if size > 0 {
                notice("the pack for \(what) broke off after \(size) bytes; the objects that arrived whole were kept")
            }
            throw transferError
        }
        return size
    }

    /// Imports the spools of runs that were killed mid-pack (nobody holds their lock), then removes them: the objects
    /// that arrived whole are kept, so this run asks only for the rest.
    func salvageSpools() async {
        guard let names = try? FileSystem.names(in: store.temporaryDirectory) else { return }
        for name in names where name.hasPrefix("pack-") && name.hasSuffix(".pack") {
            let path = store.temporaryDirectory + "/" + name
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { closeDescriptor(fd) }
            // Held by a live run (this one's or another's, in any PID namespace): not ours to take.
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            if let report = try? await Self.importOffThread(path, into: store) {
                state.withLock { $0.stats.packObjects += report.objects }
            }
            // A killed run's pack is cut short: the importer throws after keeping the whole objects.
            unlink(path)
        }
    }

    /// Inflating, delta resolution and hashing are CPU work: a thread of their own keeps the async pool free.
    static func importOffThread(_ path: String, into store: ObjectStore) async throws -> PackImportReport {
        try await startImport(path, into: store, arrival: nil).value
    }

    /// Starts importing the pack at `path` on a thread of its own (while it is still arriving, with `arrival`).
    static func startImport(_ path: String, into store: ObjectStore, arrival: PackArrival?) -> Task<
        PackImportReport, any Error
    > {
        Task {
            try await withCheckedThrowingContinuation { continuation in
                let thread = Thread {
                    continuation.resume(
                        with: Result { try PackImporter(store: store).importPack(atPath: path, arrival: arrival) })
                }
                thread.name = "smart-sync pack import"
                thread.start()
            }
        }
    }
}

/// `close(2)`, out of reach of ``GitPackSource/close()``.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
