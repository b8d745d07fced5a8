import Foundation
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import Synchronization
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The scan runs while the ref is resolved and listed; a run that fails there stops the scan instead of waiting for
/// the rest of the target's walk.
@Suite("a failed resolve stops the scan")
struct ScanCancellationTests {
    /// A source whose resolve fails, as a ref the host does not have does.
    struct FailingSource: SyncSource {
        let base: LocalGitSource
        var displayName: String { base.displayName }
        var transport: String { base.transport }
        var statistics: SourceStatistics { base.statistics }
        func resolve(_ ref: String?) async throws -> ResolvedRef {
            throw SmartSyncError(.notFound, "'\(ref ?? "HEAD")' was not found")
        }
        func listing(for ref: ResolvedRef) async throws -> TreeListing { try await base.listing(for: ref) }
        func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
            async throws -> FetchReport
        {
            try await base.fetch(blobs, of: ref, into: store, progress: progress)
        }
        func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? { nil }
        func close() {}
    }

    @Test func aFailingResolveStopsTheScanBeforeItHasWalkedTheTarget() async throws {
        let repo = try GitFixture()
        try repo.write("README.md", "a\n")
        try repo.commit("A")
        let dirs = try TemporaryDirectory(prefix: "scan-cancel")
        let target = dirs.appending("target")
        let directories = 60
        for d in 0..<directories { try TestFiles.write(target + "/d\(d)/f.nix", "\(d)\n") }
        let opened = Locked<[TreePath]>([])
        var runner = SyncRunner(
            source: FailingSource(base: try await LocalGitSource(path: repo.path)),
            store: try ObjectStore(root: dirs.appending("store")), state: try StateStore(root: dirs.appending("state")))
        // The first directory waits until the run has failed (and so cancelled the scan), at most 20 s; the walk then
        // goes on, stopping at its next directory.
        runner.beforeScanOpening = { path, cancellation in
            let first = opened.withLock { seen in
                seen.append(path)
                return seen.count == 1
            }
            guard first else { return }
            for _ in 0..<20_000 where !cancellation.isCancelled { usleep(1000) }
        }
        let error = await #expect(throws: SmartSyncError.self) {
            try await runner.sync(.init(ref: "missing", target: target))
        }
        #expect(error?.code == .notFound, "\(String(describing: error))")
        let seen = opened.withLock { $0 }
        #expect(seen.count < directories, "the scan opened \(seen.count) of \(directories) directories")
    }

    /// The hashing (most of a cold scan: a first run over an existing tree) stops too: a cancelled hasher throws
    /// before its next file instead of hashing the rest.
    @Test func aCancelledHashingStopsBeforeItsNextFile() throws {
        let dirs = try TemporaryDirectory(prefix: "hash-cancel")
        let files = (0..<64).map { TreePath("d/f\($0).nix") }
        for f in files { try TestFiles.write(dirs.appending(f.description), "\(f)\n") }
        var hasher = ParallelHasher(root: dirs.path, files: files.map { ($0, 16) })
        #expect(try hasher.hash(workers: 2).compactMap { $0 }.count == files.count)
        let flag = CancellationFlag()
        flag.cancel()
        hasher.cancellation = flag
        #expect(throws: CancellationError.self) { try hasher.hash(workers: 2) }
    }
}
