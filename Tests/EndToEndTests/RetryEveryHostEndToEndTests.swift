import Foundation
import TestSupport
import Testing

/// Every kind of host a run talks to (API, raw, git) goes through the engine's one retry path (jittered backoff,
/// `Retry-After`) and its host-wide backoff: a 503 from each is retried, slows that host, and the sync succeeds.
/// (Mirrors use the same `perform(retrying:)`; their own suite covers them.)
@Suite("Retries and host-wide backoff on every host kind", .serialized)
struct RetryEveryHostEndToEndTests {
    private func log(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.contains(" debug [") }
    }

    /// The log shows, for `kind`, a retried request that succeeded and the host being held back after the 503.
    private func expectRetriedAndThrottled(
        _ lines: [Substring], kind: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            lines.contains { $0.contains(" kind=\(kind)") && $0.contains(" retry=1") && $0.contains("→ 200") },
            "no retried \(kind) request succeeded", sourceLocation: sourceLocation)
        #expect(
            lines.contains { $0.contains("answered 503: new requests to it wait") && $0.contains(" kind=\(kind)") },
            "the \(kind) host was not held back", sourceLocation: sourceLocation)
    }

    @Test func apiAndRawAnswers503OnceEach() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "api", "path_regex": "/commits/"}, "times": 1, "action": {"status": 503}}, "#
                + #"{"match": {"listener": "raw"}, "times": 1, "action": {"status": 503}}]"#
        )
        let r = try s.run("sync", ["-v", "--transport", "raw"])
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        let lines = log(r.stderrString)
        expectRetriedAndThrottled(lines, kind: "api")
        expectRetriedAndThrottled(lines, kind: "raw")
    }

    @Test func gitAnswers503OnceToTheAdvertisementAndTheFetch() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "git", "method": "GET"}, "times": 1, "action": {"status": 503}}, "#
                + #"{"match": {"listener": "git", "method": "POST", "body_contains": "command=fetch"}, "times": 1, "#
                + #""action": {"status": 503}}]"#
        )
        let r = try s.run("sync", ["-v", "--transport", "pack"])
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        let lines = log(r.stderrString)
        expectRetriedAndThrottled(lines, kind: "git")
        #expect(lines.contains { $0.contains("POST ") && $0.contains(" kind=git") && $0.contains(" retry=1") })
        let git = try s.server.requests().filter { $0.listener == "git" }
        #expect(git.filter { $0.status == 503 }.count == 2)
    }
}
