import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitProtocol
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// ``UploadPackClient`` on the wire: bytes against `git fetch --depth 1`, and the token.
@Suite(.serialized)
struct UploadPackWireTests {
    @Test func anUpdateCostsNoMoreBytesThanGitFetch() async throws {
        let fixture = try UploadPackFixture()
        let server = try fixture.gitHTTPServer()
        let url = server.url(UploadPackFixture.repository)

        // git: a shallow clone of the old commit, then `git fetch --depth 1` of the branch.
        let clone = fixture.directory.appending("git-clone")
        try GitFixture.run(["-c", "protocol.version=2", "clone", "-q", "--depth", "1", "-b", "old", url, clone])
        let before = server.requests(atLeast: 3).count  // the clone: advertisement, ls-refs, fetch
        #expect(before == 3)
        try GitFixture.run([
            "-C", clone, "-c", "protocol.version=2", "fetch", "-q", "--depth", "1", "origin", "main",
        ])
        // git: the advertisement, ls-refs and (at least) one fetch POST; a moment more for a second fetch round.
        _ = server.requests(atLeast: before + 3)
        usleep(200_000)
        let gitRequests = Array(server.requests().dropFirst(before))
        let gitBytes = gitRequests.reduce(0) { $0 + $1.bytesSent }
        let gitSent = gitRequests.reduce(0) { $0 + $1.requestLength }
        #expect(try GitFixture.run(["-C", clone, "rev-parse", "FETCH_HEAD"]).output == fixture.new.hex)

        // Ours: capabilities, ls-refs and one fetch, as a first run that knows the old commit would do.
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let client = UploadPackClient(repositoryURL: url, engine: engine, authorization: nil)
        let ours = server.requests().count
        let refs = try await client.lsRefs(prefixes: ["refs/heads/main"])
        #expect(refs.first?.id == fixture.new)
        let response = try await client.fetch(
            PackRequest(wants: [fixture.new], haves: [fixture.old], shallows: [fixture.old], deepen: 1),
            spoolTo: fixture.directory.appending("ours.pack"))
        let ourRequests = Array(server.requests(atLeast: ours + 3).dropFirst(ours))
        let ourBytes = ourRequests.reduce(0) { $0 + $1.bytesSent }
        let ourSent = ourRequests.reduce(0) { $0 + $1.requestLength }
        print(
            "upload-pack bytes: ours \(ourBytes) received / \(ourSent) sent in \(ourRequests.count) requests "
                + "(pack \(response.packBytes), response bodies \(client.statistics.bytesReceived)); "
                + "git fetch --depth 1: \(gitBytes) received / \(gitSent) sent in \(gitRequests.count) requests")
        #expect(ourRequests.count == 3)
        #expect(Double(ourBytes) <= 1.2 * Double(gitBytes))
        #expect(Set(ourRequests.map(\.connection)).count == 1, "one connection for the whole run")
        #expect(client.statistics.newConnections == 1)
    }

    @Test func theTokenReachesTheGitHostAndNoMessage() async throws {
        let fixture = try UploadPackFixture()
        let secret = "s3cret-token-value"
        let token = GitHubToken(secret, origin: "test")
        let server = try GitHTTPServer(
            repositories: [UploadPackFixture.repository: fixture.repo.path],
            requiredAuthorization: token.basicAuthorizationForGit)
        let host = String(server.baseURL.dropFirst("http://".count))
        let url = server.url(UploadPackFixture.repository)

        let engine = try UploadPackFixture.engine(credentialHosts: [host])
        defer { engine.shutdown() }
        let client = UploadPackClient(repositoryURL: url, engine: engine, authorization: token.basicAuthorizationForGit)
        let refs = try await client.lsRefs(prefixes: ["refs/heads/"])
        #expect(refs.contains { $0.name == "refs/heads/main" })
        _ = try await client.fetch(
            PackRequest(wants: [fixture.new], deepen: 1), spoolTo: fixture.directory.appending("auth.pack"))
        let logged = server.requests(atLeast: 3)
        #expect(logged.count == 3)
        #expect(logged.allSatisfy { $0.hadAuthorization && $0.status == 200 })

        let encoded = String(token.basicAuthorizationForGit.dropFirst("Basic ".count))
        // Without the token, and with a wrong one: refused, and no message carries a credential.
        let wrong = GitHubToken("wrong-token-value", origin: "test")
        for candidate in [nil, wrong] {
            let refused = UploadPackClient(
                repositoryURL: url, engine: engine, authorization: candidate?.basicAuthorizationForGit)
            let error = await #expect(throws: SmartSyncError.self) { try await refused.lsRefs(prefixes: []) }
            #expect(error?.code == .unauthorized)
            let text = "\(error.map { String(describing: $0) } ?? "")"
            for leak in [secret, encoded, "wrong-token-value", wrong.basicAuthorizationForGit] {
                #expect(!text.contains(leak))
            }
        }
        // A host outside credentialHosts never gets it.
        let elsewhere = try UploadPackFixture.engine()
        defer { elsewhere.shutdown() }
        let before = server.requests(atLeast: 5).count  // 3 with the token, 2 refused
        #expect(before == 5)
        _ = try? await UploadPackClient(
            repositoryURL: url, engine: elsewhere, authorization: token.basicAuthorizationForGit
        ).capabilities()
        let unauthenticated = server.requests(atLeast: before + 1).dropFirst(before)
        #expect(unauthenticated.count == 1)
        #expect(unauthenticated.allSatisfy { !$0.hadAuthorization })
    }
}
