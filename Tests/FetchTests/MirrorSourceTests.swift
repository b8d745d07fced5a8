import Foundation
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer
import Testing
import TestSupport

/// `MirrorSource` against a mirror directory built with git (``MirrorLayout``) and served by nginx: listings with
/// paths that are not UTF-8, commits and their history verified, a pack resumed where a killed run stopped.
@Suite(.serialized) struct MirrorSourceTests {
    final class Fixture: @unchecked Sendable {
        let repo: GitFixture
        let nginx: NginxServer
        let dirs: TemporaryDirectory
        let engine: TransferEngine
        let store: ObjectStore
        let mirror: MirrorSource

        /// `serverConfig` goes into nginx's server block; `retries`: the mirror's retry policy.
        init(serverConfig: String = "", retries: Int = 0) throws {
            repo = try GitFixture()
            nginx = try NginxServer(
                serverConfig: serverConfig, tls: false, logFormat: "$request_uri $status $http_range")
            dirs = try TemporaryDirectory(prefix: "mirror-source")
            engine = try TransferEngine(configuration: TransferConfiguration())
            store = try ObjectStore(root: dirs.appending("store"))
            mirror = MirrorSource(
                baseURL: nginx.baseURL + "/m/", engine: engine,
                retryPolicy: RetryPolicy(retries: retries, baseDelay: 0.01))
        }

        deinit { engine.shutdown() }

        func publish(_ refs: [String: String], packs: Bool = false) throws {
            try MirrorLayout.publish(
                repo, refs: refs, head: "main", to: nginx.root + "/m", repository: "acme/hyper", packs: packs)
        }

        func ref(_ commit: String) throws -> ResolvedRef {
            ResolvedRef(name: "main", commit: try #require(ObjectID(hex: commit)))
        }
    }

    @Test func aListingKeepsPathBytesThatAreNotUTF8AndVerifies() async throws {
        let f = try Fixture()
        let latin1: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)
        try f.repo.write("big file.bin", (0..<100_000).map { UInt8(truncatingIfNeeded: $0) })
        try f.repo.git("add", "-A")
        // A path git stores as it is (Latin-1, not UTF-8), put in the index directly.
        let blob = try f.repo.git(["hash-object", "-w", "--stdin"], input: Array("bytes\n".utf8))
        try f.repo.git(
            ["update-index", "--add", "--index-info"],
            input: Array("100644 blob \(blob)\tdir/".utf8) + latin1 + [0x0A])
        try f.repo.git("commit", "-q", "-m", "odd names")
        let commit = try f.repo.revParse("HEAD")
        try f.publish(["main": commit])

        let listing = try await f.mirror.listing(for: try f.ref(commit))
        try listing.verify()
        // The sizes are the mirror's word, not covered by the tree's hash: not handed on.
        #expect(listing.entries.contains { $0.path.bytes == Array("dir/".utf8) + latin1 && $0.size == nil })
        #expect(listing.entries.contains { $0.path == "big file.bin" && $0.size == nil })
        #expect(listing.rootTree.hex == (try f.repo.revParse(commit + "^{tree}")))
    }

    @Test func commitsAreVerifiedAndHistoryAnswersAncestry() async throws {
        let f = try Fixture()
        try f.repo.write("a", "1\n")
        let first = try f.repo.commit("1")
        try f.repo.write("a", "2\n")
        let second = try f.repo.commit("2")
        try f.publish(["main": second])
        let (one, two) = (try #require(ObjectID(hex: first)), try #require(ObjectID(hex: second)))
        let body = try await f.mirror.commitObject(two)
        #expect(ObjectID.hash(.commit, body) == two)
        #expect(try await f.mirror.isAncestor(one, of: two) == true)
        #expect(try await f.mirror.isAncestor(two, of: one) == false)
        // A commit the mirror's history does not reach: it cannot tell.
        let unknown = try #require(ObjectID(hex: String(repeating: "ab", count: 20)))
        try FileManager.default.removeItem(atPath: MirrorLayout.path(f.nginx.root + "/m", "commits", first))
        #expect(try await f.mirror.isAncestor(unknown, of: two) == nil)
        // A commit file altered: refused, never returned.
        try TestFiles.write(MirrorLayout.path(f.nginx.root + "/m", "commits", second), "tree 0\n")
        await #expect(throws: SourceFailure.self) { try await f.mirror.commitObject(two) }
    }

    @Test func aPackCutShortByAKilledRunIsResumedWithRange() async throws {
        let f = try Fixture()
        let (commit, spool, url, pack) = try MirrorPackResumeTests().setUp(f)
        // What a killed run left: the first half of the pack and where it came from.
        try TestFiles.write(spool, bytes: Array(pack.prefix(pack.count / 2)))
        let etag = try #require(MirrorPackResumeTests.nginxETag(f.nginx.root + "/m/packs/\(commit).pack"))
        try MirrorPackResumeTests.writeMeta(spool, url: url, validator: etag)

        let ref = try f.ref(commit)
        let listing = try await f.mirror.listing(for: ref)
        let wants = listing.files.map { BlobWant(id: $0.id, path: $0.path, size: $0.size) }
        let report = try await f.mirror.fetch(wants, of: ref, into: f.store, progress: .none)
        #expect(report.blobsFetched == 100)
        #expect(wants.allSatisfy { f.store.contains($0.id) })
        #expect(f.mirror.transport == "mirror+pack")
        let asked = f.nginx.accessLogLines().filter { $0.hasPrefix("/m/packs/") }
        #expect(asked == ["/m/packs/\(commit).pack 206 bytes=\(pack.count / 2)-"])
        #expect(!TestFiles.exists(spool))
    }

    @Test func mirrorRequestsAreRetriedWithBackoffAndA5xxSaysTheMirrorIsDown() async throws {
        let nginx = try NginxServer(serverConfig: "location /m/commits/ { return 503; }", tls: false)
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let mirror = MirrorSource(
            baseURL: nginx.baseURL + "/m", engine: engine, retryPolicy: RetryPolicy(retries: 2, baseDelay: 0.01))
        let id = try #require(ObjectID(hex: String(repeating: "cd", count: 20)))
        let error = await #expect(throws: SmartSyncError.self) { try await mirror.commitObject(id) }
        #expect(error?.httpStatus == 503)
        #expect(error.map { SourceFailure(classifying: $0).reason } == .serverError)
        #expect(nginx.accessLogLines().count == 3)
        #expect(mirror.statistics.retries == 2)
    }

    /// With a trust, `refs.sig` is read with a cap of one armored signature's limit (64 KiB), `refs` with 1 MiB: a
    /// mirror cannot make the client buffer or parse more, whatever the verifier would say.
    @Test func oversizedRefsAndSignatureAreRefusedBeforeVerifying() async throws {
        let f = try Fixture()
        try f.repo.write("README", "x\n")
        try f.repo.git("add", "-A")
        try f.repo.git("commit", "-q", "-m", "one")
        try f.publish(["main": try f.repo.revParse("HEAD")])
        let verified = Locked(0)
        let trust = MirrorTrust(repository: "acme/hyper", stateDirectory: f.dirs.path) { _, _, _ in
            verified.withLock { $0 += 1 }
            return "anyone"
        }
        let mirror = MirrorSource(
            baseURL: f.nginx.baseURL + "/m", engine: f.engine, retryPolicy: RetryPolicy(retries: 0), trust: trust)
        let refs = f.nginx.root + "/m/refs"
        let signature = f.nginx.root + "/m/refs.sig"
        try TestFiles.write(signature, bytes: [UInt8](repeating: 0x41, count: 64 << 10))
        _ = try await mirror.resolve("main")  // at the cap: handed to the verifier
        #expect(verified.withLock { $0 } == 1)
        try TestFiles.write(signature, bytes: [UInt8](repeating: 0x41, count: (64 << 10) + 1))
        let error = await #expect(throws: SmartSyncError.self) { try await mirror.resolve("main") }
        #expect(error?.message.contains("/m/refs.sig") == true, "\(String(describing: error))")
        #expect(error?.message.contains("65536-byte limit") == true, "\(String(describing: error))")
        try TestFiles.write(signature, bytes: [0x41])
        let pointer = try #require(TestFiles.read(refs))
        try TestFiles.write(refs, pointer + String(repeating: " ", count: 1 << 20))
        let large = await #expect(throws: SmartSyncError.self) { try await mirror.resolve("main") }
        #expect(large?.message.contains("/m/refs is larger than the 1048576-byte limit") == true)
        #expect(verified.withLock { $0 } == 1)
    }
}
