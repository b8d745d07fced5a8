import Foundation
import TestSupport
import Testing

/// The test server's compare and git/commits endpoints answer in GitHub's shapes, from real git.
@Suite("fake GitHub: compare and signed git/commits", .serialized)
struct FakeGitHubCompareTests {
    @Test func compareSaysAheadBehindDivergedIdenticalAndNotFound() throws {
        let demo = try Demo()
        try demo.repo.write("third.txt", "main moves on\n")
        let third = try demo.repo.commit("third")  // on main, beside feature/x: the two have diverged
        let server = try FakeGitHub(repos: ["o/r": demo.repo.path])
        func compare(_ base: String, _ head: String) throws -> CurlReply {
            try curl(server.api("o/r", "/compare/\(base)...\(head)?per_page=1"))
        }
        let ahead = try compare(demo.first, demo.second)
        #expect(ahead.status == 200)
        #expect(ahead.json["status"] as? String == "ahead")
        #expect(ahead.json["ahead_by"] as? Int == 1 && ahead.json["behind_by"] as? Int == 0)
        #expect((ahead.json["merge_base_commit"] as? [String: Any])?["sha"] as? String == demo.first)
        #expect((ahead.json["commits"] as? [[String: Any]])?.first?["sha"] as? String == demo.second)
        #expect((ahead.json["files"] as? [[String: Any]])?.isEmpty == false)
        #expect(try compare(demo.second, demo.first).json["status"] as? String == "behind")
        #expect(try compare(third, demo.feature).json["status"] as? String == "diverged")
        #expect(try compare(demo.second, demo.second).json["status"] as? String == "identical")
        #expect(try compare(String(repeating: "ab", count: 20), demo.second).status == 404)
        // Conditional: the ETag comes back as a free 304.
        let etag = try #require(ahead.headers["etag"])
        let again = try curl(
            server.api("o/r", "/compare/\(demo.first)...\(demo.second)?per_page=1"), headers: ["If-None-Match": etag])
        #expect(again.status == 304)
    }

    @Test func aSignedCommitCarriesItsPayloadAndSignature() throws {
        let demo = try Demo()
        let keys = try TemporaryDirectory(prefix: "key")
        try ProcessRunner.run(
            "ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keys.appending("k")],
            environment: ["PATH": "/usr/bin:/bin"])
        try demo.repo.write("signed.txt", "signed\n")
        try demo.repo.git("add", "-A")
        try demo.repo.git(
            "-c", "gpg.format=ssh", "-c", "user.signingkey=\(keys.appending("k"))", "commit", "-q", "-S", "-m", "signed"
        )
        let signed = try demo.repo.git("rev-parse", "HEAD")
        let server = try FakeGitHub(repos: ["o/r": demo.repo.path])
        let reply = try curl(server.api("o/r", "/git/commits/\(signed)"))
        let verification = try #require(reply.json["verification"] as? [String: Any])
        let signature = try #require(verification["signature"] as? String)
        let payload = try #require(verification["payload"] as? String)
        #expect(signature.hasPrefix("-----BEGIN SSH SIGNATURE-----"))
        // The payload is what git signed: the object without its gpgsig header.
        let raw = try demo.repo.git("cat-file", "commit", signed)
        #expect(!payload.contains("gpgsig") && raw.contains("gpgsig"))
        #expect(payload.hasPrefix("tree ") && payload.contains("\n\nsigned"))
        let unsigned = try curl(server.api("o/r", "/git/commits/\(demo.second)"))
        #expect((unsigned.json["verification"] as? [String: Any])?["reason"] as? String == "unsigned")
    }
}
