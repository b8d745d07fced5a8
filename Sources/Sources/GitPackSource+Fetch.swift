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
    /// Fetches the blobs a listing's pack did not bring: those the filter left out (over the threshold) one per request
    /// through ``raw`` (resumable), the rest in one pack of exactly those blobs (after an interrupted pack, say).
    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        var seen = Set<ObjectID>()
        let missing = blobs.filter { seen.insert($0.id).inserted && !store.contains($0.id) }
        guard !missing.isEmpty else { return FetchReport() }
        let filteredOut = state.withLock { $0.filteredOut }
        let large = missing.filter { want in
            raw != nil && (filteredOut.contains(want.id) || (want.size ?? 0) > largeBlobThreshold)
        }
        let largeIDs = Set(large.map(\.id))
        let small = missing.filter { !largeIDs.contains($0.id) }

        var report = FetchReport()
        if let raw, !large.isEmpty {
            state.withLock { $0.usedRaw = true }
            let viaRaw = try await raw.fetch(large, of: ref, into: store, progress: progress)
            report.blobsFetched += viaRaw.blobsFetched
            report.bytesReceived += viaRaw.bytesReceived
            report.refetched += viaRaw.refetched
        }
        if !small.isEmpty {
            _ = try await remember { try await client.capabilities() }
            let haves = completeHaves([], excluding: ref.commit)
            var request = PackRequest(wants: small.map(\.id))
            request.haves = haves
            request.shallows = haves
            let received = try await receivePack(request, what: "\(small.count) blob\(small.count == 1 ? "" : "s")")
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

    /// Asks for one pack, spools it beside the store and imports it. When the transfer breaks off, the objects that
    /// arrived whole are imported all the same (a rerun then asks only for the rest) and the transfer's error is thrown.
    ///
    /// - Returns: the pack's size in bytes.
    @discardableResult
    func receivePack(_ request: PackRequest, what: String) async throws -> Int {
        // The pid in the name lets a later run tell a killed run's spool (salvaged) from a running one's.
        let spool =
            store.temporaryDirectory + "/pack-\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            + ".pack"
        defer { unlink(spool) }
        state.withLock { $0.stats.packRequests += 1 }
        var transferError: (any Error)?
        do {
            _ = try await remember { try await client.fetch(request, spoolTo: spool) }
        } catch {
            transferError = error
        }
        var st = stat()
        let size = stat(spool, &st) == 0 ? Int(st.st_size) : 0
        if size > 0 {
            do {
                let report = try await Self.importOffThread(spool, into: store)
                state.withLock { $0.stats.packObjects += report.objects }
            } catch let error as SmartSyncError {
                // A broken transfer explains a truncated pack better than the importer does.
                if transferError == nil {
                    capabilityCache.clear()
                    throw SmartSyncError(
                        error.code, "the pack for \(what) from \(repositoryURL) was rejected: \(error.message)",
                        cause: error)
                }
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

    /// Imports the spools of runs that were killed mid-pack (their process is gone), then removes them: the objects
    /// that arrived whole are kept, so this run asks only for the rest.
    func salvageSpools() async {
        guard let names = try? FileSystem.names(in: store.temporaryDirectory) else { return }
        for name in names where name.hasPrefix("pack-") && name.hasSuffix(".pack") {
            let parts = name.split(separator: "-")
            guard parts.count == 3, let pid = Int32(parts[1]), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            let path = store.temporaryDirectory + "/" + name
            // Another run may be salvaging it too: whoever renames it first imports it.
            let mine = path + ".salvage-\(getpid())"
            guard rename(path, mine) == 0 else { continue }
            defer { unlink(mine) }
            if let report = try? await Self.importOffThread(mine, into: store) {
                state.withLock { $0.stats.packObjects += report.objects }
            } else {
                // The importer throws on the truncation it is expected to meet, after keeping the whole objects.
            }
        }
    }

    /// Inflating, delta resolution and hashing are CPU work: a thread of their own keeps the async pool free.
    static func importOffThread(_ path: String, into store: ObjectStore) async throws -> PackImportReport {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try PackImporter(store: store).importPack(atPath: path) })
            }
            thread.name = "smart-sync pack import"
            thread.start()
        }
    }
}
