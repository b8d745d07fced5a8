import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// ``GitPackSource`` held to what it asks for, against the Python test server's git listener and its pack faults.
@Suite(.serialized)
struct PackLimitsFaultTests {
    let fixture: UploadPackFixture
    let github: FakeGitHub
    let dirs: TemporaryDirectory

    init() throws {
        fixture = try UploadPackFixture()
        github = try FakeGitHub(repos: [UploadPackFixture.repository: fixture.repo.path])
        dirs = try TemporaryDirectory(prefix: "pack-limits")
    }

    static let fetch = #"{"listener": "git", "method": "POST", "body_contains": "command=fetch"}"#

    func source(_ engine: TransferEngine, store: ObjectStore) -> GitPackSource {
        GitPackSource(
            repositoryURL: github.gitURL(UploadPackFixture.repository), engine: engine, token: nil, store: store,
            raw: nil, cacheDirectory: nil, retryPolicy: RetryPolicy(retries: 0))
    }

    /// The error of fetching `big.bin` (its size as given) into a fresh store; the store.
    func fetchBigBlob(size: Int?, store name: String) async throws -> (SmartSyncError?, ObjectStore) {
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let store = try ObjectStore(root: dirs.appending(name))
        let want = BlobWant(id: fixture.bigBlob, path: "assets/big.bin", size: size)
        let error = await #expect(throws: SmartSyncError.self) {
            try await source(engine, store: store).fetch(
                [want], of: ResolvedRef(name: "main", commit: fixture.new), into: store, progress: .none)
        }
        return (error, store)
    }

    func objectCount(_ store: ObjectStore) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: store.objectsDirectory).reduce(0) {
            $0 + (try FileManager.default.contentsOfDirectory(atPath: store.objectsDirectory + "/" + $1)).count
        }
    }

    /// A pack of `want <blob>` lines holds those blobs and nothing else: one more is refused at the header.
    @Test func aBlobPackDeclaringMoreObjectsIsRefusedAtItsHeader() async throws {
        try github.setFaults(#"[{"match": \#(Self.fetch), "action": {"pack_extra_blobs": 1}}]"#)
        let (error, store) = try await fetchBigBlob(size: nil, store: "store-count")
        #expect(error?.code == .malformedResponse)
        let message = error?.message ?? ""
        #expect(message.contains(github.gitURL(UploadPackFixture.repository)), "\(message)")
        #expect(message.contains("declares 2 objects, more than the 1 that the 1 blob asked for"), "\(message)")
        #expect(try objectCount(store) == 0)
    }

    /// The listing gave the blob's size: the response may take that and the pack's overhead. A server that floods
    /// progress (4 MiB of it, before the pack) is cut off there, whatever the run's --max-download.
    @Test func aBlobPackOfKnownSizeIsHeldToItsBytes() async throws {
        try github.setFaults(#"[{"match": \#(Self.fetch), "action": {"pack_progress_bytes": 4194304}}]"#)
        let (error, store) = try await fetchBigBlob(size: 300_000, store: "store-known")
        #expect(error?.code == .malformedResponse)
        let message = error?.message ?? ""
        #expect(message.contains(github.gitURL(UploadPackFixture.repository)), "\(message)")
        let limit = 300_000 + PackBudget.overhead(bytes: 300_000, objects: 1)
        #expect(message.contains("larger than the \(ByteCount.text(limit)) (\(limit) bytes)"), "\(message)")
        #expect(message.contains("the 1 blob asked for (300000 bytes by the listing"), "\(message)")
        #expect(try objectCount(store) == 0)
    }

    /// A refusal while the pack arrives stops the transfer: a pack whose header declares too many objects, then
    /// drips for 15 s before the rest, is cut off during the drip, not received to its end.
    @Test func aRefusedPackStopsItsTransfer() async throws {
        let action = #"{"pack_object_count": 4000000, "drip_after_bytes": 70000, "drip_for_ms": 15000}"#
        try github.setFaults(#"[{"match": \#(Self.fetch), "action": \#(action)}]"#)
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let store = try ObjectStore(root: dirs.appending("store-stop"))
        let error = await #expect(throws: SmartSyncError.self) {
            try await source(engine, store: store).listing(for: ResolvedRef(name: "main", commit: fixture.new))
        }
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("declares 4000000 objects") == true, "\(error?.message ?? "")")
        #expect(try objectCount(store) == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory)
        #expect(leftovers.isEmpty, "\(leftovers)")
        // The server logs the fetch once its writes fail (the connection was closed) or it sent everything.
        var fetches: [LoggedRequest] = []
        for _ in 0..<300 where fetches.isEmpty {
            fetches = try github.requests().filter { $0.listener == "git" && $0.method == "POST" && $0.bytes > 1000 }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        let sent = try #require(fetches.first).bytes
        #expect(sent < 100_000, "the server sent \(sent) bytes: the refused pack was received to its end")
    }
}
