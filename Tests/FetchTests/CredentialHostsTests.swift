import Foundation
import SmartSyncFetch
import SmartSyncTransfer
import TestSupport
import Testing

/// Which hosts the token may reach: the API, the git host, GitHub's own raw host for github.com, and a raw host only
/// when the operator named it.
@Suite("credential hosts", .serialized)
struct CredentialHostsTests {
    private func hosts(_ apiURL: String, raw: String? = nil, git: String? = nil) -> Set<String> {
        GitHubLocation(owner: "o", repository: "r", apiURL: apiURL, rawURL: raw).credentialHosts(gitURL: git)
    }

    @Test func theRule() {
        #expect(hosts("https://api.github.com") == ["api.github.com", "raw.githubusercontent.com"])
        #expect(
            hosts("https://api.github.com", git: "https://github.com")
                == ["api.github.com", "raw.githubusercontent.com", "github.com"])
        // GitHub Enterprise: its own host; GitHub's raw host never, unless named.
        #expect(GitHubLocation(owner: "o", repository: "r", apiURL: "https://ghe.corp/api/v3").rawURL == nil)
        #expect(hosts("https://ghe.corp/api/v3") == ["ghe.corp"])
        #expect(hosts("https://ghe.corp/api/v3", git: "https://ghe.corp") == ["ghe.corp"])
        #expect(hosts("https://ghe.corp/api/v3", raw: "https://raw.ghe.corp") == ["ghe.corp", "raw.ghe.corp"])
        #expect(
            hosts("https://ghe.corp/api/v3", raw: "https://raw.githubusercontent.com")
                == ["ghe.corp", "raw.githubusercontent.com"])
        // A mirror named with --raw-url replaces GitHub's raw host; non-default ports are part of the host.
        #expect(
            hosts("https://api.github.com", raw: "https://mirror.corp:8443/") == ["api.github.com", "mirror.corp:8443"])
        #expect(hosts("https://api.github.com:443", raw: "http://m:80") == ["api.github.com", "m"])
    }

    @Test func aRedirectToAnyOtherHostLosesTheToken() async throws {
        // Four "hosts" on loopback: the API, the raw host, the git host, and one the token must never reach.
        let server = try LoopbackHTTPServer(portCount: 4)
        defer { server.stop() }
        let location = GitHubLocation(
            owner: "o", repository: "r", apiURL: server.baseURL(0) + "/api/v3", rawURL: server.baseURL(1))
        var configuration = TransferConfiguration()
        configuration.credentialHosts = location.credentialHosts(gitURL: server.baseURL(2))
        let engine = try TransferEngine(configuration: configuration)
        defer { engine.shutdown() }
        let token = GitHubToken("secret-value", origin: "test").authorizationHeader
        let other = server.baseURL(3) + "/landing"
        let encoded = other.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        for allowed in 0..<3 {
            for status in [301, 302, 307, 308] {
                let response = try await engine.perform(
                    TransferRequest(
                        url: server.baseURL(allowed) + "/redirect?status=\(status)&to=\(encoded)", authorization: token)
                )
                #expect(response.status == 200)
                #expect(response.effectiveURL == other)
            }
        }
        // Between allowed hosts it travels on.
        let toRaw = (server.baseURL(1) + "/blob").addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        _ = try await engine.perform(
            TransferRequest(url: server.baseURL(0) + "/redirect?to=\(toRaw)", authorization: token))
        let snapshot = try server.snapshot()
        #expect(snapshot.requests(port: server.ports[3]).count == 12)
        #expect(snapshot.requests(port: server.ports[3]).allSatisfy { $0.authorization == nil })
        for allowed in 0..<3 {
            #expect(snapshot.requests(port: server.ports[allowed]).allSatisfy { $0.authorization == token })
        }
        #expect(snapshot.requests(port: server.ports[1]).contains { $0.path == "/blob" })
    }
}
