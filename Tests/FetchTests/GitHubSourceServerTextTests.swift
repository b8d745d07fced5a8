import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// Text a GitHub server sends reaches an error message escaped and cut (``EscapedText/excerpt(_:limit:)``): no
/// terminal control byte on the way to a terminal or a log, and no megabyte of it either.
@Suite(.serialized)
struct GitHubSourceServerTextTests {
    @Test func aCommitSHAAnswerThatIsNotOneIsEscapedAndCut() async throws {
        let served = try DemoServer(prefix: "server-text")
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let source = GitHubSource(
            location: GitHubLocation(
                owner: "octo", repository: "demo", apiURL: served.server.apiURL, rawURL: served.server.rawURL),
            engine: engine, token: nil, cache: ValidatorCache(directory: nil), retryPolicy: RetryPolicy(retries: 0))
        let body = "\u{1B}]0;pwned\u{07}\u{1B}[2J" + String(repeating: "x", count: 5000)
        let rule: [String: Any] = [
            "match": ["listener": "api", "path_regex": "/commits/HEAD"], "action": ["status": 200, "body": body],
        ]
        try served.server.setFaults(String(decoding: try JSONSerialization.data(withJSONObject: [rule]), as: UTF8.self))
        let error = await #expect(throws: SmartSyncError.self) { try await source.resolve(nil) }
        let message = error?.message ?? ""
        #expect(message.contains("did not answer with a commit SHA (got '\\x1b]0;pwned\\x07\\x1b[2J"), "\(message)")
        #expect(message.contains("…(4954 bytes more)"), "\(message)")
        #expect(!message.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "\(message)")
    }
}
