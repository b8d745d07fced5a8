import Foundation
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import Testing
import TestSupport

/// A mirror's pack and objects as real servers send them: a pack with no `Content-Length` (chunked, as CDNs and
/// HTTP/2 send it), and a mirror that goes away in the middle of a fetch.
@Suite(.serialized) struct MirrorPackDownloadTests {
    /// A mirror at `/m` with a commit of 100 files (and its pack), listed.
    private func manyFiles(_ f: MirrorSourceTests.Fixture) async throws -> (ResolvedRef, [BlobWant]) {
        for i in 0..<100 { try f.repo.write("f/\(i)", "content \(i) " + String(repeating: "x", count: i * 50) + "\n") }
        let commit = try f.repo.commit("many")
        try f.publish(["main": commit], packs: true)
        let ref = try f.ref(commit)
        let listing = try await f.mirror.listing(for: ref)
        return (ref, listing.files.map { BlobWant(id: $0.id, path: $0.path, size: $0.size) })
    }

    @Test func aPackWithoutContentLengthIsTakenOnceAndImported() async throws {
        // SSI makes nginx drop Content-Length and send the pack chunked.
        let f = try MirrorSourceTests.Fixture(serverConfig: "location /m/packs/ { ssi on; ssi_types *; }", retries: 2)
        let (ref, wants) = try await manyFiles(f)
        let report = try await f.mirror.fetch(wants, of: ref, into: f.store, progress: .none)
        let lines = f.nginx.accessLogLines()
        #expect(f.mirror.transport == "mirror+pack")
        #expect(report.blobsFetched == 100)
        #expect(lines.filter { $0.hasPrefix("/m/packs/") }.count == 1, "\(lines)")
        #expect(lines.filter { $0.hasPrefix("/m/objects/") }.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.store.temporaryDirectory).isEmpty)
    }

    @Test func aMirrorThatGoesAwayIsLeftAfterItsFirstUnreachableBlob() async throws {
        let f = try MirrorSourceTests.Fixture(retries: 2)
        let (ref, wants) = try await manyFiles(f)
        f.nginx.stop()
        let before = f.mirror.statistics.blobRequests
        await #expect(throws: SourceFailure.self) {
            // 40 blobs: per-object requests, not the pack.
            _ = try await f.mirror.fetch(Array(wants.prefix(40)), of: ref, into: f.store, progress: .none)
        }
        // Without the stop, every one of the 40 blobs is asked 3 times (retries 2).
        let asked = f.mirror.statistics.blobRequests - before
        #expect(asked < 40, "\(asked) requests to a mirror that is down")
    }

    @Test func aTrustComparesTheRepositoryAsGitHubDoes() {
        #expect(MirrorTrust.normalized("Acme/Hyper.git") == "acme/hyper")
        #expect(MirrorTrust.normalized("acme/hyper/") == "acme/hyper")
        let trust = MirrorTrust(repository: "Acme/Hyper.git", stateDirectory: "/state") { _, _, _ in "" }
        #expect(trust.repository == "acme/hyper")
        let same = MirrorTrust(repository: "acme/hyper", stateDirectory: "/state") { _, _, _ in "" }
        #expect(trust.recordPath == same.recordPath)
    }
}

extension MirrorPackDownloadTests {
    @Test func aDamagedPackFallsBackToObjectsFromTheSameMirror() async throws {
        let f = try MirrorSourceTests.Fixture()
        let (ref, wants) = try await manyFiles(f)
        let pack = f.nginx.root + "/m/packs/\(ref.commit.hex).pack"
        var bytes = try #require(TestFiles.readBytes(pack))
        bytes[bytes.count / 2] ^= 0xFF
        try TestFiles.write(pack, bytes: bytes)
        let report = try await f.mirror.fetch(wants, of: ref, into: f.store, progress: .none)
        // Objects before the damage were hashed as they were stored and are kept; the rest come one by one.
        #expect(report.blobsFetched == 100)
        #expect(wants.allSatisfy { f.store.contains($0.id) })
        #expect(f.mirror.transport == "mirror")
        let objects = f.nginx.accessLogLines().filter { $0.hasPrefix("/m/objects/") }.count
        #expect(objects > 0 && objects <= 100)
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.store.temporaryDirectory).isEmpty)
    }
}
