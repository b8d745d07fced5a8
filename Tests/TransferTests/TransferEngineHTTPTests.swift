import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@Suite("TransferEngine over plain HTTP/1.1")
struct TransferEngineHTTPTests {
    @Test func getIntoMemory() async throws {
        let server = try LoopbackHTTPServer()
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let response = try await engine.perform(TransferRequest(url: server.baseURL() + "/hello.txt"))
        #expect(response.status == 200)
        #expect(text(response.body) == "hello /hello.txt")
        #expect(response.bytesReceived == 16)
        #expect(response.httpVersion == 1)
        #expect(response.newConnections == 1)
        #expect(response.headers["content-length"] == "16")
        #expect(response.effectiveURL == server.baseURL() + "/hello.txt")
        // A second request reuses the kept-alive connection.
        let again = try await engine.perform(TransferRequest(url: server.baseURL() + "/again"))
        #expect(again.newConnections == 0)
        #expect(
            engine.statistics
                == {
                    var s = TransferStatistics()
                    s.requests = 2
                    s.bytesReceived = 16 + 12
                    s.newConnections = 1
                    return s
                }())
    }

    @Test func notFoundReturnsStatusWithBufferedBody() async throws {
        let server = try LoopbackHTTPServer()
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let sink = CollectingSink()
        let response = try await engine.perform(
            TransferRequest(url: server.baseURL() + "/status/404", sink: .stream(sink)))
        #expect(response.status == 404)
        #expect(text(response.body) == "status 404")
        #expect(sink.begins.isEmpty, "a non-2xx body must not reach the sink")
        #expect(sink.bytes.isEmpty)
    }

    @Test func memoryLimitIsEnforced() async throws {
        let server = try LoopbackHTTPServer()
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let error = await capturedError {
            try await engine.perform(TransferRequest(url: server.baseURL() + "/a-long-path", sink: .memory(limit: 4)))
        }
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("4-byte limit") == true)
    }

    @Test func sinkRefusingBeginCancels() async throws {
        let server = try LoopbackHTTPServer()
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let sink = CollectingSink(acceptBegin: false)
        let error = await capturedError {
            try await engine.perform(TransferRequest(url: server.baseURL() + "/x", sink: .stream(sink)))
        }
        #expect(error?.code == .cancelled)
        #expect(sink.begins == [200])
        #expect(sink.bytes.isEmpty)
    }

    @Test func headAndPost() async throws {
        let server = try LoopbackHTTPServer()
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let head = try await engine.perform(TransferRequest(url: server.baseURL() + "/h", method: .head))
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        let post = try await engine.perform(
            TransferRequest(url: server.baseURL() + "/p", method: .post(body: Array("a=1".utf8))))
        #expect(post.status == 200)
        #expect(text(post.body) == "hello /p")
    }

    @Test func connectionRefusedIsNetworkErrorNamingURL() async throws {
        let port = try LoopbackHTTPServer.unusedPort()
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let url = "http://127.0.0.1:\(port)/some/file"
        let error = await capturedError {
            try await engine.perform(TransferRequest(url: url, authorization: "Bearer sekrit-token"))
        }
        #expect(error?.code == .network)
        #expect(error?.message.contains(url) == true, "message should name the URL: \(String(describing: error))")
        #expect(error?.description.contains("sekrit-token") == false)
    }

    @Test func invalidRequestsAreRejected() async throws {
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let badScheme = await capturedError { try await engine.perform(TransferRequest(url: "ftp://127.0.0.1/x")) }
        #expect(badScheme?.code == .invalidArgument)
        let injected = await capturedError {
            try await engine.perform(
                TransferRequest(url: "http://127.0.0.1:1/x", headers: [HTTPHeader("X-A", "b\r\nEvil: 1")]))
        }
        #expect(injected?.code == .invalidArgument)
        let authHeader = await capturedError {
            try await engine.perform(
                TransferRequest(url: "http://127.0.0.1:1/x", headers: [HTTPHeader("authorization", "Bearer x")]))
        }
        #expect(authHeader?.code == .invalidArgument)
    }
}
