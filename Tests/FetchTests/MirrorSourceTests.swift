import Foundation
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
        for i in 0..<100 { try f.repo.write("f/\(i)", "content \(i) " + String(repeating: "x", count: i * 50) + "\n") }
        let commit = try f.repo.commit("many")
        try f.publish(["main": commit], packs: true)
        let pack = try #require(TestFiles.readBytes(f.nginx.root + "/m/packs/\(commit).pack"))
        // What a killed run left: the first half of the pack and where it came from.
        let mirrorURL = f.nginx.baseURL + "/m"
        let key = ObjectID.hash(.blob, Array(mirrorURL.utf8)).abbreviated(16)
        let spool = f.store.temporaryDirectory + "/mirror-pack-\(commit)-\(key)"
        try TestFiles.write(spool, bytes: Array(pack.prefix(pack.count / 2)))
        try TestFiles.write(
            spool + ".meta",
            #"{"format":"smart-sync-mirror-pack","url":"\#(mirrorURL)/packs/\#(commit).pack","version":1}"# + "\n")

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
}
