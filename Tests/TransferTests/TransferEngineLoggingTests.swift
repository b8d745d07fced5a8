import Foundation
import Logging
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@Suite("the engine's request log")
struct TransferEngineLoggingTests {
    static let token = "Bearer log-test-token-5678"

    /// A loopback server and an engine logging to `handler` (at `level` when given), which may send credentials to
    /// the server when `allowingCredentials`.
    private func fixture(
        _ handler: RecordingLogHandler, level: Logger.Level? = nil, allowingCredentials: Bool = false
    ) throws -> EngineFixture<LoopbackHTTPServer> {
        let server = try LoopbackHTTPServer()
        return try EngineFixture(server) {
            var logger = handler.logger
            if let level { logger.logLevel = level }
            $0.logger = logger
            if allowingCredentials { $0.credentialHosts = ["127.0.0.1:\(server.ports[0])"] }
        }
    }

    @Test func eachHopIsLoggedWithoutCredentialsOrSecretParameters() async throws {
        let handler = RecordingLogHandler()
        let fixture = try fixture(handler, allowingCredentials: true)
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        let landing = server.baseURL() + "/landing?sig=SIGNATURE123&page=2"
        let to = landing.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let response = try await engine.perform(
            TransferRequest(
                url: server.baseURL() + "/redirect?status=302&to=\(to)&access_token=QUERYTOKEN",
                headers: [HTTPHeader("Range", "bytes=10-"), HTTPHeader("If-None-Match", "\"etag-1\"")],
                authorization: Self.token, hostKind: "api"))
        #expect(response.status == 200)
        // The token went out with both hops: the log could have leaked it.
        #expect(try server.snapshot().requests.map(\.authorization) == [Self.token, Self.token])
        let lines = handler.recorded.filter { $0.hasPrefix("debug GET ") }
        #expect(lines.count == 2, "\(handler.recorded)")
        #expect(lines.first?.contains("access_token=REDACTED") == true && lines.first?.contains("→ 302") == true)
        #expect(lines.last?.contains("/landing?sig=REDACTED&page=2 → 200") == true, "\(lines)")
        #expect(lines.last?.contains(" redirect=1") == true)
        for line in lines {
            #expect(
                line.contains(" kind=api") && line.contains(" resume=bytes=10-") && line.contains(" conditional=yes"))
            #expect(line.contains(" bytes=") && line.contains(" ms=") && line.contains(" connection="))
        }
        // -vv's response headers name the redirect's target, redacted as well.
        let traced = handler.recorded.filter { $0.hasPrefix("trace response headers") }
        #expect(traced.contains { $0.contains("sig=REDACTED") }, "\(traced)")
        // (The first hop's URL holds the landing URL percent-encoded in `to=`: a nested URL is not taken apart.)
        #expect(lines.last?.contains("SIGNATURE123") == false && !traced.contains { $0.contains("SIGNATURE123") })
        for secret in ["log-test-token-5678", "Bearer", "QUERYTOKEN", "etag-1"] {
            #expect(!handler.recorded.contains { $0.contains(secret) }, "'\(secret)' logged: \(handler.recorded)")
        }
    }

    /// A traced header's value is the server's text: escaped (and cut), so `-vv` never writes a control byte.
    @Test func tracedHeaderValuesAreEscaped() async throws {
        let handler = RecordingLogHandler()
        let fixture = try fixture(handler, level: .trace)
        defer { fixture.stop() }
        let long = String(repeating: "z", count: 300)
        let response = try await fixture.engine.perform(
            TransferRequest(url: fixture.server.baseURL() + "/status/200?retry-after=%1B%5B2J\(long)", hostKind: "api"))
        #expect(response.status == 200)
        let traced = handler.recorded.filter { $0.hasPrefix("trace response headers") }
        #expect(traced.contains { $0.contains("\\x1b[2Jzzz") && $0.contains("bytes more)") }, "\(traced)")
        #expect(!handler.recorded.contains { $0.utf8.contains(0x1B) }, "\(handler.recorded)")
    }

    @Test func retriesAndFailuresAreLogged() async throws {
        let handler = RecordingLogHandler()
        let fixture = try fixture(handler)
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        let policy = RetryPolicy(retries: 1, baseDelay: 0.01)
        let response = try await engine.perform(retrying: policy) { _ in
            TransferRequest(url: server.baseURL() + "/status/503", hostKind: "raw")
        }
        #expect(response.status == 503)
        let lines = handler.recorded
        #expect(lines.filter { $0.contains("/status/503 → 503") }.count == 2, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("debug retry 1 of 1 in ") && $0.contains("HTTP 503") }, "\(lines)")
        #expect(lines.contains { $0.contains("→ 503") && $0.contains(" retry=1") }, "\(lines)")

        let port = try LoopbackHTTPServer.unusedPort()
        let error = await capturedError {
            try await engine.perform(TransferRequest(url: "http://127.0.0.1:\(port)/refused", hostKind: "git"))
        }
        #expect(error?.code == .network)
        #expect(
            handler.recorded.contains {
                $0.contains("/refused failed: ") && $0.contains(" error=network") && $0.contains(" kind=git")
            },
            "\(handler.recorded)")
    }

    @Test func aDisabledLoggerCostsNoLine() async throws {
        let handler = RecordingLogHandler()
        let fixture = try fixture(handler, level: .info)
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        _ = try await engine.perform(TransferRequest(url: server.baseURL() + "/quiet"))
        #expect(handler.recorded.isEmpty)
    }

    @Test(arguments: [
        ("https://h/p?token=abc&x=1", "https://h/p?token=REDACTED&x=1"),
        ("https://h/p?X-Amz-Signature=abc", "https://h/p?X-Amz-Signature=REDACTED"),
        ("https://h/p?recursive=1", "https://h/p?recursive=1"),
        ("https://h/p?flag&apikey=z#frag", "https://h/p?flag&apikey=REDACTED#frag"),
        ("https://user:pw@h/p", "https://h/p"),
    ])
    func loggableURLs(_ url: String, _ logged: String) throws {
        #expect(try RequestURL(url).loggable == logged)
    }
}
