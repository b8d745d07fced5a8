import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@Suite("TransferEngine against nginx over TLS and HTTP/2")
struct TransferEngineTLSTests {
    func trustingEngine(_ server: NginxServer, maxConcurrent: Int = 16) throws -> TransferEngine {
        var configuration = TransferConfiguration()
        configuration.extraCAFile = server.certificatePath
        configuration.maxConcurrent = maxConcurrent
        configuration.maxPerHost = maxConcurrent
        return try TransferEngine(configuration: configuration)
    }

    @Test func untrustedCertificateFailsWithCACertHint() async throws {
        try requireNginx()
        let server = try NginxServer()
        defer { server.stop() }
        try "hi".write(toFile: server.root + "/hi.txt", atomically: true, encoding: .utf8)
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let url = server.baseURL + "/hi.txt"
        let error = await capturedError { try await engine.perform(TransferRequest(url: url)) }
        #expect(error?.code == .tls)
        #expect(error?.hint?.contains("--cacert") == true)
        #expect(error?.message.contains(url) == true)

        let trusting = try trustingEngine(server)
        defer { trusting.shutdown() }
        let response = try await trusting.perform(TransferRequest(url: url))
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
        let server = try NginxServer()
        defer { server.stop() }
        var generator = SystemRandomNumberGenerator()
        let content = (0..<(10 << 20) / 8).flatMap { _ in
            withUnsafeBytes(of: generator.next() as UInt64) { Array($0) }
        }
        try Data(content).write(to: URL(fileURLWithPath: server.root + "/big.bin"))
        let engine = try trustingEngine(server)
        defer { engine.shutdown() }
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
        let server = try NginxServer()
        defer { server.stop() }
        let count = 64
        for index in 0..<count {
            try "file \(index)".write(toFile: server.root + "/f\(index)", atomically: true, encoding: .utf8)
        }
        let engine = try trustingEngine(server, maxConcurrent: count)
        defer { engine.shutdown() }
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
