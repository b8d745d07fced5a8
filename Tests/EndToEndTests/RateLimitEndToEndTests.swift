import Foundation
import SmartSyncCore
import TestSupport
import Testing

@Suite("retries, rate limits and tokens against the GitHub-shaped server", .serialized)
struct RateLimitEndToEndTests {
    @Test func retryAfterIsHonouredOnTheAPIAndTheRawHost() throws {
        let s = try Scenario()
        let commit = try ResumeFixture.commit(s.repo)
        try s.server.setFaults(
            #"""
            [{"match": {"listener": "api", "path_regex": "/commits/"}, "times": 1,
              "action": {"status": 429, "retry_after": 1}},
             {"match": {"listener": "raw", "path_regex": "README"}, "times": 1,
              "action": {"status": 429, "retry_after": 1}},
             {"match": {"listener": "raw", "path_regex": "run\\.sh"}, "times": 1, "action": {"status": 503}}]
            """#)
        try s.sync()
        try s.expectTargetEqualsArchive(commit)
        let api = try s.apiRequests().filter { $0.path.contains("/commits/") }
        try #require(api.count == 2, "\(api)")
        #expect(api[0].status == 429 && api[1].status == 200)
        #expect(api[1].t - api[0].t >= 0.9)
        let readme = try s.rawRequests().filter { $0.path.hasSuffix("README.md") }
        try #require(readme.count == 2)
        #expect(readme[1].t - readme[0].t >= 0.9)
        #expect(try s.rawRequests().filter { $0.path.hasSuffix("run.sh") }.map(\.status) == [503, 200])
    }

    @Test func exhaustedRateLimitWaitsForAResetWithinMaxWait() throws {
        let s = try Scenario()
        let commit = try ResumeFixture.commit(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "api", "path_regex": "/git/trees/"}, "times": 1, "#
                + #""action": {"rate_limit_exhausted": true, "reset_in": 2}}]"#
        )
        try s.sync(["--max-wait", "10"])
        try s.expectTargetEqualsArchive(commit)
        let trees = try s.apiRequests().filter { $0.path.contains("/git/trees/") }
        try #require(trees.count == 2, "\(trees)")
        #expect(trees[0].status == 403 && trees[1].status == 200)
        // Waited for the reset (now + 2 s, whole seconds) plus a second.
        #expect(trees[1].t - trees[0].t >= 1.0)
    }

    @Test func exhaustedRateLimitBeyondMaxWaitFailsWithTheResetTime() throws {
        let s = try Scenario()
        let a = try ResumeFixture.commit(s.repo)
        try s.sync()
        try s.repo.write("README.md", "# changed\n")
        _ = try s.repo.commit("B")
        // The fallback clone is refused too, so the run must fail and say when the quota resets.
        try s.server.setFaults(
            #"[{"match": {"listener": "api"}, "action": {"rate_limit_exhausted": true, "reset_in": 3600}}, "#
                + #"{"match": {"listener": "git"}, "action": {"status": 500}}]"#
        )
        let started = Date()
        let r = try s.run("sync", ["--max-wait", "5"])
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(r.status == 5, "\(r.stderrString)")
        let err = r.stderrString
        #expect(err.contains("rate limit is exhausted"), "\(err)")
        #expect(err.contains("(in 3"), "\(err)")  // seconds from now
        #expect(err.contains("--max-wait"), "\(err)")
        #expect(err.contains("GH_TOKEN"), "\(err)")
        #expect(err.contains("--force-full"), "\(err)")
        #expect(err.contains("shallow clone") && err.contains("failed too"), "\(err)")
        try s.expectTargetEqualsArchive(a)
        // No pointless retries of a request that cannot succeed before the reset.
        let api = try s.apiRequests().filter { $0.t >= started.timeIntervalSince1970 }
        #expect(api.count == 1, "\(api.map { "\($0.path) \($0.status)" })")
    }

    @Test func tokenNeverReachesARedirectTarget() throws {
        let s = try Scenario(token: "s3cret-token")
        let commit = try ResumeFixture.commit(s.repo)
        let other = try FakeGitHub(repos: [s.slug: s.repo.path])
        defer { other.stop() }
        let target = other.rawURL(s.slug, commit, ResumeFixture.bigPath)
        try s.server.setFaults(ResumeFixture.rule(#"{"redirect_to": "\#(target)"}"#).wrappedInList)
        try s.sync(token: "s3cret-token")
        try s.expectTargetEqualsArchive(commit)
        let elsewhere = try other.requests()
        try #require(!elsewhere.isEmpty, "the redirect was not followed")
        #expect(elsewhere.allSatisfy { !$0.hadAuthorization }, "\(elsewhere.map(\.headers))")
        // The configured hosts did get it.
        #expect(try s.apiRequests().allSatisfy { $0.hadAuthorization })
        #expect(try s.rawRequests().allSatisfy { $0.hadAuthorization })
    }

    /// A number from the network too large for an `Int` (`Retry-After: 1e20`, `inf`; `x-ratelimit-reset: 1e20`)
    /// is a rate-limit error like any long wait, not a trap (which killed the process with SIGILL, exit 132).
    @Test(arguments: [
        #"{"status": 429, "retry_after": "1e20"}"#, #"{"status": 429, "retry_after": "inf"}"#,
        #"{"status": 403, "retry_after": "1e20"}"#,
        #"{"rate_limit_exhausted": true, "headers": {"x-ratelimit-reset": "1e20"}}"#,
        #"{"rate_limit_exhausted": true, "headers": {"x-ratelimit-reset": "inf"}}"#,
    ])
    func aHugeWaitFromTheServerIsARateLimitError(action: String) throws {
        let s = try Scenario()
        _ = try ResumeFixture.commit(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "api"}, "action": \#(action)}, "#
                + #"{"match": {"listener": "git"}, "action": {"status": 500}}]"#
        )
        let r = try s.run("sync", ["--max-wait", "5", "--retries", "1"])
        #expect(r.status == 5, "\(r.status) \(r.stderrString)")
        #expect(r.stderrString.contains("rate limit"), "\(r.stderrString)")
        #expect(!FileManager.default.fileExists(atPath: s.target + "/README.md"))
    }

    /// A wait from the server beyond any sane bound fails at once even when `--max-wait` is as long (1e9 s and more):
    /// the run never sleeps through a 31-year `Retry-After` or reset. The run gets a minute before it counts as
    /// asleep (it fails within a second when right).
    @Test(arguments: [
        (#"{"status": 429, "retry_after": "1e20"}"#, "1e9"), (#"{"status": 403, "retry_after": "1e20"}"#, "1e12"),
        (#"{"rate_limit_exhausted": true, "headers": {"x-ratelimit-reset": "1e20"}}"#, "1e9"),
        (#"{"rate_limit_exhausted": true, "headers": {"x-ratelimit-reset": "1e20"}}"#, "1e300"),
    ])
    func aHugeWaitFailsAtOnceWhateverMaxWait(action: String, maxWait: String) throws {
        let s = try Scenario()
        _ = try ResumeFixture.commit(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "api"}, "action": \#(action)}, {"match": {"listener": "git"}, "#
                + #""action": {"status": 500}}]"#
        )
        let child = try s.start("sync", ["--max-wait", maxWait, "--retries", "1"], name: "huge-wait")
        guard let done = child.wait(timeout: .seconds(60)) else {
            child.terminate()
            Issue.record("still waiting after a minute with --max-wait \(maxWait) and \(action)")
            return
        }
        let stderr = (try? String(contentsOfFile: s.dirs.appending("huge-wait.err"), encoding: .utf8)) ?? ""
        #expect(done.status == 5, "\(done) \(stderr)")
        #expect(stderr.contains("rate limit"), "\(stderr)")
        if action.contains("reset") {
            #expect(stderr.contains("resets at"), "\(stderr)")
            #expect(stderr.contains("further away than smart-sync ever waits"), "\(stderr)")
            #expect(!stderr.contains("raise --max-wait"), "\(stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: s.target + "/README.md"))
    }

    /// The `message` of GitHub's error JSON reaches stderr escaped: no terminal escape sequence, no forged line.
    @Test func theServersMessageIsEscaped() throws {
        let s = try Scenario()
        _ = try ResumeFixture.commit(s.repo)
        let body = #"{\"message\": \"\\u001b[2J\\u001b[31mteapot\\nsmart-sync: sync complete\"}"#
        try s.server.setFaults(
            #"[{"match": {"listener": "api"}, "action": {"status": 418, "body": "\#(body)"}}, "#
                + #"{"match": {"listener": "git"}, "action": {"status": 500}}]"#
        )
        let r = try s.run("sync")
        #expect(r.status != 0, "\(r.stderrString)")
        #expect(r.stderrString.contains(#"\x1b[2J\x1b[31mteapot\x0asmart-sync: sync complete"#), "\(r.stderrString)")
        #expect(!r.stderr.contains(0x1B), "\(r.stderrString)")
        #expect(!r.stderrString.split(separator: "\n").contains { $0.hasPrefix("smart-sync: sync complete") })
    }

    @Test func rejectedTokenSaysSo() throws {
        let s = try Scenario(token: "right-token")
        _ = try ResumeFixture.commit(s.repo)
        let r = try s.run("sync", token: "wrong-token")
        #expect(r.status == 4, "\(r.stderrString)")
        #expect(r.stderrString.contains("rejected the token"), "\(r.stderrString)")
        #expect(r.stderrString.contains("GH_TOKEN"))
        #expect(!r.stderrString.contains("wrong-token"))
        #expect(!FileManager.default.fileExists(atPath: s.target + "/README.md"))
    }
}

extension String {
    var wrappedInList: String { "[" + self + "]" }
}
