import Foundation
import SmartSyncCore
import SmartSyncGitProtocol
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// ``UploadPackClient`` against the Python test server's git listener (`git http-backend` as CGI, `Git-Protocol`
/// passed as `GIT_PROTOCOL`), with its fault injection: retries before the pack, none after.
@Suite(.serialized)
struct UploadPackFaultTests {
    let fixture: UploadPackFixture
    let github: FakeGitHub

    init() throws {
        fixture = try UploadPackFixture()
        github = try fixture.fakeGitHub()
    }

    func client(_ engine: TransferEngine, notices: Locked<[String]>) -> UploadPackClient {
        UploadPackFixture.client(
            github.gitURL(UploadPackFixture.repository), engine: engine, retries: 2, notices: notices)
    }

    /// The git POSTs logged, once there are `count` (the server logs a request just after its last byte).
    func posts(_ count: Int) throws -> [LoggedRequest] {
        let deadline = Date().addingTimeInterval(5)
        while true {
            let posts = try github.requests().filter { $0.listener == "git" && $0.method == "POST" }
            if posts.count >= count || Date() > deadline { return posts }
            usleep(10_000)
        }
    }

    @Test func theTestServerSpeaksProtocolV2() async throws {
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let client = client(engine, notices: Locked([]))
        #expect(try await client.capabilities().supportsShallow)
        let refs = try await client.lsRefs(prefixes: ["refs/heads/main"])
        #expect(refs.map(\.id) == [fixture.new])
        let response = try await client.fetch(
            PackRequest(wants: [fixture.new], haves: [fixture.old], shallows: [fixture.old], deepen: 1),
            spoolTo: fixture.directory.appending("fake.pack"))
        #expect(response.shallow == [fixture.new])
        #expect(response.packBytes > 12)
    }

    /// The advertisement's Content-Type is the server's text: escaped and cut in the error, never shown raw.
    @Test func aWrongContentTypeIsEscapedInTheError() async throws {
        let type = "text/html\u{1B}[2J" + String(repeating: "y", count: 400)
        let rule: [String: Any] = [
            "match": ["listener": "git", "method": "GET"],
            "action": ["status": 200, "body": "not git", "headers": ["Content-Type": type]],
        ]
        try github.setFaults(String(decoding: try JSONSerialization.data(withJSONObject: [rule]), as: UTF8.self))
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let error = await #expect(throws: SmartSyncError.self) {
            try await client(engine, notices: Locked([])).capabilities()
        }
        let message = error?.message ?? ""
        #expect(message.contains("Content-Type 'text/html\\x1b[2J"), "\(message)")
        #expect(message.contains("bytes more)"), "\(message)")
        #expect(!message.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "\(message)")
    }

    @Test func aFailureBeforeThePackIsRetried() async throws {
        try github.setFaults(
            #"[{"match": {"listener": "git", "method": "POST"}, "times": 1, "action": {"status": 503}}]"#)
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let notices = Locked<[String]>([])
        let client = client(engine, notices: notices)
        let response = try await client.fetch(
            PackRequest(wants: [fixture.new], deepen: 1), spoolTo: fixture.directory.appending("retried.pack"))
        #expect(response.packBytes > 300_000)
        #expect(try posts(2).map(\.status) == [503, 200])
        #expect(notices.withLock { $0 }.contains { $0.hasPrefix("retrying in") })
    }

    @Test func aPackCutShortKeepsItsBytesAndIsNotRetried() async throws {
        try github.setFaults(
            #"[{"match": {"listener": "git", "method": "POST"}, "times": 1, "#
                + #""action": {"truncate_after_bytes": 100000}}]"#
        )
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let spool = fixture.directory.appending("cut.pack")
        let error = await #expect(throws: SmartSyncError.self) {
            try await client(engine, notices: Locked([])).fetch(
                PackRequest(wants: [fixture.new], deepen: 1), spoolTo: spool)
        }
        #expect(error?.message.contains("broke off") == true, "\(error.map { "\($0)" } ?? "")")
        let kept = try Data(contentsOf: URL(fileURLWithPath: spool))
        // Whole side-band packets only: the one the cut fell in (at most 64 KiB) is not written.
        #expect(kept.count > 100_000 - PktLine.maxPacketLength - 200 && kept.count < 100_000)
        #expect(error?.message.contains("after \(kept.count) bytes") == true)
        #expect(kept.prefix(4) == Data("PACK".utf8))
        usleep(200_000)
        #expect(try posts(1).count == 1)
    }
}
