import Foundation
import SmartSyncCore
import SmartSyncGitObjects
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
        let source = Self.source(served, engine)
        let body = "\u{1B}]0;pwned\u{07}\u{1B}[2J" + String(repeating: "x", count: 5000)
        try Self.fault(served, path: "/commits/HEAD", action: ["status": 200, "body": body])
        let error = await #expect(throws: SmartSyncError.self) { try await source.resolve(nil) }
        let message = error?.message ?? ""
        #expect(message.contains("did not answer with a commit SHA (got '\\x1b]0;pwned\\x07\\x1b[2J"), "\(message)")
        #expect(message.contains("…(4954 bytes more)"), "\(message)")
        #expect(!message.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "\(message)")
    }

    static func source(_ served: DemoServer, _ engine: TransferEngine) -> GitHubSource {
        GitHubSource(
            location: GitHubLocation(
                owner: "octo", repository: "demo", apiURL: served.server.apiURL, rawURL: served.server.rawURL),
            engine: engine, token: nil, cache: ValidatorCache(directory: nil), retryPolicy: RetryPolicy(retries: 0))
    }

    static func fault(_ served: DemoServer, path: String, action: [String: Any]) throws {
        let rule: [String: Any] = ["match": ["listener": "api", "path_regex": path], "action": action]
        try served.server.setFaults(String(decoding: try JSONSerialization.data(withJSONObject: [rule]), as: UTF8.self))
    }

    /// An escape sequence, a C1 CSI, a right-to-left override, then 5,000 bytes more.
    static let hostile = "\u{1B}[2J\u{9B}31m\u{202E}" + String(repeating: "y", count: 5000)
    /// Its 12 bytes of controls as they show.
    static let hostileShown = "\\x1b[2J\\xc2\\x9b31m\\xe2\\x80\\xae"

    static func expectEscaped(_ message: String, _ shown: String, more: Int) {
        #expect(message.contains(shown), "\(message)")
        #expect(message.contains("…(\(more) bytes more)"), "\(message)")
        #expect(!message.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, "\(message)")
        #expect(!message.unicodeScalars.contains("\u{202E}"), "\(message)")
    }

    /// GitHub's own error message (`{"message": ...}`) is cut as every excerpt is: it went through the escaper whole,
    /// up to the response-body limit.
    @Test func gitHubsErrorMessageIsEscapedAndCut() async throws {
        let served = try DemoServer(prefix: "server-text")
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let body = String(
            decoding: try JSONSerialization.data(withJSONObject: ["message": Self.hostile]), as: UTF8.self)
        try Self.fault(served, path: "/commits/HEAD", action: ["status": 500, "body": body])
        let error = await #expect(throws: SmartSyncError.self) { try await Self.source(served, engine).resolve(nil) }
        let message = error?.message ?? ""
        // 200 bytes of it: the 12 of the controls (escaped), then 188 of the 5,000.
        Self.expectEscaped(
            message, "(GitHub said: " + Self.hostileShown + String(repeating: "y", count: 188) + "…", more: 4812)
    }

    /// The error a question `ask` throws once the API's answers at `path` have the JSON field `field` (a dotted path)
    /// set to ``hostile`` (the test server's `json_fields` fault).
    static func messageWithHostileField(
        _ field: String, at path: String, _ ask: (GitHubSource, DemoServer) async throws -> Void
    ) async throws -> String {
        let served = try DemoServer(prefix: "server-text")
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        try Self.fault(served, path: path, action: ["json_fields": [field: Self.hostile]])
        let error = await #expect(throws: SmartSyncError.self) { try await ask(Self.source(served, engine), served) }
        return error?.message ?? ""
    }

    /// A ref's object type is the API's word (no hash covers it): one that is not a commit or tag is quoted escaped
    /// and cut.
    @Test func aRefsObjectTypeIsEscapedAndCut() async throws {
        let message = try await Self.messageWithHostileField("object.type", at: "/git/matching-refs/") { source, _ in
            _ = try await source.resolve("refs/heads/main")
        }
        #expect(message.contains("refs/heads/main in repository 'octo/demo' points at a "), "\(message)")
        Self.expectEscaped(
            message, "points at a " + Self.hostileShown + String(repeating: "y", count: 48) + "…", more: 4952)
    }

    /// A ref's object id that is not one is quoted escaped and cut (it was quoted whole, up to the body limit).
    @Test func aRefsObjectSHAThatIsNotOneIsEscapedAndCut() async throws {
        let message = try await Self.messageWithHostileField("object.sha", at: "/git/matching-refs/") { source, _ in
            _ = try await source.resolve("refs/heads/main")
        }
        Self.expectEscaped(
            message, "the API named '" + Self.hostileShown + String(repeating: "y", count: 188) + "…", more: 4812)
        #expect(message.contains("bytes more)' as the object of refs/heads/main"), "\(message)")
    }

    /// A commit's `verification.reason` is the API's word too: quoted escaped and cut when the commit carries no
    /// signed payload.
    @Test func aVerificationReasonIsEscapedAndCut() async throws {
        let message = try await Self.messageWithHostileField("verification.reason", at: "/git/commits/") {
            source, served in
            _ = try await source.commitObject(try #require(ObjectID(hex: served.demo.second)))
        }
        #expect(message.contains("carries no signed payload (verification: "), "\(message)")
        Self.expectEscaped(
            message, "(verification: " + Self.hostileShown + String(repeating: "y", count: 188) + "…", more: 4812)
    }

    /// The rate-limit resource header is the server's text too: cut as every excerpt is.
    @Test func aRateLimitResourceHeaderIsCut() async throws {
        let served = try DemoServer(prefix: "server-text")
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let resource = String(repeating: "r", count: 5000)
        try Self.fault(
            served, path: "/commits/HEAD",
            action: ["rate_limit_exhausted": true, "headers": ["x-ratelimit-resource": resource]])
        let error = await #expect(throws: SmartSyncError.self) { try await Self.source(served, engine).resolve(nil) }
        let message = error?.message ?? ""
        let cut = String(repeating: "r", count: 200) + "…(4800 bytes more))"
        #expect(message.contains(", resource " + cut), "\(message)")
    }

    /// A tree entry the API lists with a mode or sha that is not one: its path, mode and sha, the server's text, are
    /// quoted escaped and cut (they were quoted whole, up to the body limit).
    @Test func aTreeEntrysPathModeAndSHAAreEscapedAndCut() async throws {
        let served = try DemoServer(prefix: "server-text")
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let fields = ["tree.path": Self.hostile, "tree.mode": Self.hostile, "tree.sha": Self.hostile]
        try Self.fault(served, path: "/git/trees/", action: ["json_fields": fields])
        let commit = try #require(ObjectID(hex: served.demo.second))
        let error = await #expect(throws: SmartSyncError.self) {
            _ = try await Self.source(served, engine).listing(for: ResolvedRef(name: "main", commit: commit))
        }
        let message = error?.message ?? ""
        let quoted = "'" + Self.hostileShown + String(repeating: "y", count: 188) + "…(4812 bytes more)'"
        #expect(message.contains("lists \(quoted) with mode \(quoted) and sha \(quoted), which"), "\(message)")
        Self.expectEscaped(message, Self.hostileShown, more: 4812)
    }
}
