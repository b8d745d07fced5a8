import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@Suite("Authorization only reaches allowed hosts")
struct TransferEngineCredentialTests {
    static let token = "Bearer test-token-1234"

    func makeEngine(allowing host: String) throws -> TransferEngine {
        var configuration = TransferConfiguration()
        configuration.credentialHosts = [host]
        return try TransferEngine(configuration: configuration)
    }

    func encoded(_ url: String) -> String {
        url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
    }

    @Test func sentToAllowedHostOnly() async throws {
        let server = try LoopbackHTTPServer(portCount: 2)
        let allowed = server.ports[0]
        let other = server.ports[1]
        let engine = try makeEngine(allowing: "127.0.0.1:\(allowed)")
        defer { engine.shutdown() }

        let a = try await engine.perform(TransferRequest(url: server.baseURL(0) + "/a", authorization: Self.token))
        let b = try await engine.perform(TransferRequest(url: server.baseURL(1) + "/b", authorization: Self.token))
        #expect(a.status == 200 && b.status == 200)
        let snapshot = try server.snapshot()
        #expect(snapshot.requests(port: allowed).map(\.authorization) == [Self.token])
        #expect(snapshot.requests(port: other).map(\.path) == ["/b"])
        #expect(snapshot.requests(port: other).map(\.authorization) == [nil])
    }

    @Test func notCarriedAcrossRedirectToAnotherHost() async throws {
        let server = try LoopbackHTTPServer(portCount: 2)
        let allowed = server.ports[0]
        let other = server.ports[1]
        let engine = try makeEngine(allowing: "127.0.0.1:\(allowed)")
        defer { engine.shutdown() }

        let target = server.baseURL(1) + "/landing"
        for status in [301, 302, 303, 307, 308] {
            let response = try await engine.perform(
                TransferRequest(
                    url: server.baseURL(0) + "/redirect?status=\(status)&to=\(encoded(target))",
                    authorization: Self.token))
            #expect(response.status == 200)
            #expect(text(response.body) == "hello /landing")
            #expect(response.effectiveURL == target)
        }
        let snapshot = try server.snapshot()
        #expect(snapshot.requests(port: allowed).count == 5)
        #expect(snapshot.requests(port: allowed).allSatisfy { $0.authorization == Self.token })
        #expect(snapshot.requests(port: other).count == 5)
        #expect(snapshot.requests(port: other).allSatisfy { $0.authorization == nil })
    }

    @Test func carriedAcrossRelativeRedirectOnSameHost() async throws {
        let server = try LoopbackHTTPServer()
        let engine = try makeEngine(allowing: "127.0.0.1:\(server.ports[0])")
        defer { engine.shutdown() }
        let response = try await engine.perform(
            TransferRequest(url: server.baseURL() + "/redirect?to=%2Fnext", authorization: Self.token))
        #expect(response.status == 200)
        #expect(text(response.body) == "hello /next")
        let requests = try server.snapshot().requests
        #expect(requests.map(\.path) == ["/redirect?to=%2Fnext", "/next"])
        #expect(requests.allSatisfy { $0.authorization == Self.token })
    }

    @Test func redirectNotFollowedWhenDisabled() async throws {
        let server = try LoopbackHTTPServer()
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let response = try await engine.perform(
            TransferRequest(url: server.baseURL() + "/redirect?to=%2Fnext", followRedirects: false))
        #expect(response.status == 302)
        #expect(response.headers["Location"] == "/next")
        #expect(try server.snapshot().requests.count == 1)
    }

    @Test func redirectLoopStopsAfterFiveHops() async throws {
        let server = try LoopbackHTTPServer()
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let loop = "/redirect"  // no `to`: redirects to itself
        let error = await capturedError { try await engine.perform(TransferRequest(url: server.baseURL() + loop)) }
        #expect(error?.code == .http)
        #expect(error?.message.contains("too many redirects") == true)
        #expect(try server.snapshot().requests.count == 1 + TransferEngine.maxRedirects)
    }
}

@Suite("Authorization and TLS downgrades")
struct TransferEngineDowngradeTests {
    @Test func notCarriedFromHTTPSToHTTPEvenForAllowedHost() async throws {
        try requireNginx()
        let plain = try LoopbackHTTPServer()
        let target = plain.baseURL() + "/landing"
        let tls = try NginxServer(serverConfig: "location = /down { return 302 \(target); }")
        defer { tls.stop() }
        var configuration = TransferConfiguration()
        configuration.extraCAFile = tls.certificatePath
        // Both hosts are allowed: only the https→http downgrade keeps the credential back.
        configuration.credentialHosts = ["127.0.0.1:\(tls.port)", "127.0.0.1:\(plain.ports[0])"]
        let engine = try TransferEngine(configuration: configuration)
        defer { engine.shutdown() }
        let response = try await engine.perform(
            TransferRequest(url: tls.baseURL + "/down", authorization: TransferEngineCredentialTests.token))
        #expect(response.status == 200)
        #expect(text(response.body) == "hello /landing")
        #expect(try plain.snapshot().requests.map(\.authorization) == [nil])
        // Straight to the allowed http host, it is sent.
        _ = try await engine.perform(TransferRequest(url: target, authorization: TransferEngineCredentialTests.token))
        #expect(try plain.snapshot().requests.map(\.authorization) == [nil, TransferEngineCredentialTests.token])
    }
}
