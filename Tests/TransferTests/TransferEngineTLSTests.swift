import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@Suite("TransferEngine against nginx over TLS and HTTP/2")
struct TransferEngineTLSTests {
    @Test func untrustedCertificateFailsWithCACertHint() async throws {
        try requireNginx()
        let fixture = try EngineFixture(NginxServer())
        defer { fixture.stop() }
        let server = fixture.server
        try TestFiles.write(server.root + "/hi.txt", "hi")
        let engine = try fixture.makeEngine { $0.extraCAFile = nil }
        defer { engine.shutdown() }
        let url = server.baseURL + "/hi.txt"
        let error = await capturedError { try await engine.perform(TransferRequest(url: url)) }
        #expect(error?.code == .tls)
        #expect(error?.hint?.contains("--cacert") == true)
        #expect(error?.message.contains(url) == true)

        let response = try await fixture.engine.perform(TransferRequest(url: url))
        #expect(response.status == 200)
        #expect(text(response.body) == "hi")
        #expect(response.httpVersion == 2)
    }

    @Test func unreadableCAFileIsInvalidArgument() throws {
        var configuration = TransferConfiguration()
        configuration.extraCAFile = "/nonexistent/ca.pem"
        #expect {
            _ = try TransferEngine(configuration: configuration)
        } throws: { error in
            guard let error = error as? SmartSyncError else { return false }
            return error.code == .invalidArgument && error.message.contains("/nonexistent/ca.pem")
        }
    }

    @Test func streamingSinkReceivesExactBytes() async throws {
        try requireNginx()
        let fixture = try EngineFixture(NginxServer())
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        var generator = SystemRandomNumberGenerator()
        let content = (0..<(10 << 20) / 8).flatMap { _ in
            withUnsafeBytes(of: generator.next() as UInt64) { Array($0) }
        }
        try TestFiles.write(server.root + "/big.bin", bytes: content)
        let sink = CollectingSink()
        let response = try await engine.perform(
            TransferRequest(url: server.baseURL + "/big.bin", sink: .stream(sink)))
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        #expect(response.bytesReceived == content.count)
        #expect(sink.begins == [200])
        #expect(sink.writes > 1, "the body should arrive in several chunks")
        #expect(sink.bytes.count == content.count)
        #expect(sink.bytes == content)

        // An empty 2xx body still opens the sink exactly once.
        try Data().write(to: URL(fileURLWithPath: server.root + "/empty"))
        let emptySink = CollectingSink()
        let empty = try await engine.perform(TransferRequest(url: server.baseURL + "/empty", sink: .stream(emptySink)))
        #expect(empty.status == 200)
        #expect(emptySink.begins == [200])
        #expect(emptySink.writes == 0)
    }

    @Test func concurrentRequestsMultiplexOnOneHTTP2Connection() async throws {
        try requireNginx()
        let count = 64
        let fixture = try EngineFixture(NginxServer()) {
            $0.maxConcurrent = count
            $0.maxPerHost = count
        }
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        for index in 0..<count { try TestFiles.write(server.root + "/f\(index)", "file \(index)") }
        let responses = try await withThrowingTaskGroup(of: (Int, TransferResponse).self) { group in
            for index in 0..<count {
                let url = server.baseURL + "/f\(index)"
                group.addTask { (index, try await engine.perform(TransferRequest(url: url))) }
            }
            return try await group.reduce(into: [(Int, TransferResponse)]()) { $0.append($1) }
        }
        #expect(responses.count == count)
        for (index, response) in responses {
            #expect(response.status == 200)
            #expect(text(response.body) == "file \(index)")
            #expect(response.httpVersion == 2)
        }
        #expect(responses.map(\.1.newConnections).reduce(0, +) == 1)
        #expect(engine.statistics.newConnections == 1)
        // nginx agrees: every request came over the same connection, as HTTP/2.
        #expect(try await waitUntil { server.accessLogLines().count >= count })
        let lines = server.accessLogLines()
        #expect(lines.count == count)
        let fields = lines.map { $0.split(separator: " ").map(String.init) }
        // "$request" is three words: METHOD PATH PROTOCOL, then status, bytes, connection, requests, protocol.
        #expect(fields.allSatisfy { $0.count == 8 && $0[3] == "200" && $0[7] == "HTTP/2.0" }, "\(lines)")
        #expect(Set(fields.map { $0.count > 5 ? $0[5] : "?" }).count == 1, "\(lines)")
    }
}
