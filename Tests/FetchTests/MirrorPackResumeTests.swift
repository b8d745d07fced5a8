import Foundation
import Glibc
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import Testing
import TestSupport

/// A mirror's pack resumed only when a validator ties the kept bytes to the file served now: two publishers (or git
/// versions) may write different bytes under one `packs/<commit>.pack`, and the halves must never be spliced.
@Suite(.serialized) struct MirrorPackResumeTests {
    /// nginx's ETag for `file`: `"<mtime hex>-<size hex>"`.
    static func nginxETag(_ file: String) -> String? {
        guard let st = TestFiles.lstat(file) else { return nil }
        return "\"" + String(st.st_mtim.tv_sec, radix: 16) + "-" + String(st.st_size, radix: 16) + "\""
    }

    /// The spool's record, as a killed run leaves it.
    static func writeMeta(_ spool: String, url: String, validator: String?) throws {
        let field = try validator.map {
            ",\"validator\":" + String(decoding: try JSONEncoder().encode($0), as: UTF8.self)
        }
        try TestFiles.write(
            spool + ".meta",
            #"{"format":"smart-sync-mirror-pack","url":"\#(url)","version":1"# + (field ?? "") + "}\n")
    }

    /// A commit of 100 files published with its pack, and what another publisher's pack of it could look like.
    func setUp(_ f: MirrorSourceTests.Fixture) throws -> (commit: String, spool: String, url: String, pack: [UInt8]) {
        for i in 0..<100 { try f.repo.write("f/\(i)", "content \(i) " + String(repeating: "y", count: i * 40) + "\n") }
        let commit = try f.repo.commit("many")
        try f.publish(["main": commit], packs: true)
        let pack = try #require(TestFiles.readBytes(f.nginx.root + "/m/packs/\(commit).pack"))
        let mirrorURL = f.nginx.baseURL + "/m"
        let key = ObjectID.hash(.blob, Array(mirrorURL.utf8)).abbreviated(16)
        let spool = f.store.temporaryDirectory + "/mirror-pack-\(commit)-\(key)"
        return (commit, spool, "\(mirrorURL)/packs/\(commit).pack", pack)
    }

    func fetchAll(_ f: MirrorSourceTests.Fixture, _ commit: String) async throws {
        let ref = try f.ref(commit)
        let listing = try await f.mirror.listing(for: ref)
        let wants = listing.files.map { BlobWant(id: $0.id, path: $0.path, size: $0.size) }
        _ = try await f.mirror.fetch(wants, of: ref, into: f.store, progress: .none)
        #expect(wants.allSatisfy { f.store.contains($0.id) })
        #expect(f.mirror.transport == "mirror+pack")
    }

    @Test func keptBytesWithoutAValidatorAreNotResumed() async throws {
        let f = try MirrorSourceTests.Fixture()
        let (commit, spool, url, pack) = try setUp(f)
        // Half of a different pack of the same name, recorded without a validator.
        try TestFiles.write(spool, bytes: pack.prefix(pack.count / 2).map { $0 ^ 0x5A })
        try Self.writeMeta(spool, url: url, validator: nil)
        try await fetchAll(f, commit)
        let asked = f.nginx.accessLogLines().filter { $0.hasPrefix("/m/packs/") }
        #expect(asked == ["/m/packs/\(commit).pack 200 -"], "\(asked)")
    }

    @Test func keptBytesOfAnotherPackUnderTheNameStartOver() async throws {
        let f = try MirrorSourceTests.Fixture()
        let (commit, spool, url, pack) = try setUp(f)
        // Another publisher's pack was there when the run was killed: its validator no longer matches.
        try TestFiles.write(spool, bytes: pack.prefix(pack.count / 2).map { $0 ^ 0x5A })
        try Self.writeMeta(spool, url: url, validator: "\"5f000000-\(String(pack.count, radix: 16))\"")
        try await fetchAll(f, commit)
        let asked = f.nginx.accessLogLines().filter { $0.hasPrefix("/m/packs/") }
        #expect(asked == ["/m/packs/\(commit).pack 200 bytes=\(pack.count / 2)-"], "\(asked)")
        #expect(!TestFiles.exists(spool))
    }
}
