import Foundation
import TestSupport
import Testing

/// The shallow-clone fallback: the API down, over quota, or skipped (`--force-full`).
@Suite("fallback to a shallow clone", .serialized)
struct FallbackEndToEndTests {
    static let apiDown = #"[{"match": {"listener": "api"}, "action": {"status": 500}}]"#

    @Test func apiAnswering500FallsBackAndEqualsGitArchive() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.server.setFaults(Self.apiDown)
        let r = try s.runViaFallback("sync", ["--ref", "main", "--json"])
        try #require(r.status == 0, "sync failed: \(r.stderrString)\n\(r.stdoutString)")
        try s.expectTargetEqualsArchive(a)
        let summary = try Scenario.summary(r)
        #expect(summary["transport"] as? String == "clone")
        #expect(summary["commit"] as? String == a)
        #expect((summary["fallbackReason"] as? String)?.contains("HTTP 500") == true)
        let warning = try #require(r.events("warning").first?["message"] as? String)
        #expect(warning.hasPrefix("falling back to a shallow clone of \(s.server.gitURL)/acme/hyper.git: "))
        #expect(warning.contains("the API answered HTTP 500"))
        #expect(try s.rawRequests().isEmpty)
        #expect(try s.gitRequests().contains { $0.method == "POST" && $0.status == 200 })

        // Humans get the same line on stderr, and the summary says how the blobs came.
        try FileManager.default.removeItem(atPath: s.target + "/flake.nix")
        let human = try s.runViaFallback("sync", ["--ref", "main"])
        #expect(human.status == 0, "\(human.stderrString)")
        #expect(human.stderrString.contains("warning: falling back to a shallow clone of"))
        #expect(human.stderrString.contains("from a shallow clone"))
        try s.expectTargetEqualsArchive(a)
    }

    @Test func treeFailingAfterResolveFetchesTheResolvedCommitBySHA() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "api", "path_regex": "/git/trees/"}, "action": {"status": 502}}]"#)
        let r = try s.runViaFallback("sync", ["--json"])
        try #require(r.status == 0, "sync failed: \(r.stderrString)\n\(r.stdoutString)")
        try s.expectTargetEqualsArchive(a)
        let summary = try Scenario.summary(r)
        #expect(summary["transport"] as? String == "clone")
        #expect((summary["fallbackReason"] as? String)?.contains("HTTP 502") == true)
        #expect((summary["requests"] as? [String: Any])?["apiRequests"] as? Int == 2)
        // The clone asked for the commit the API resolved, by SHA, not for the ref again.
        let upload = try s.gitRequests().filter { $0.method == "POST" }
        #expect(!upload.isEmpty)
    }

    @Test func forceFullMakesNoAPIRequest() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let r = try s.runViaFallback("sync", ["--force-full", "--json"])
        try #require(r.status == 0, "sync failed: \(r.stderrString)\n\(r.stdoutString)")
        try s.expectTargetEqualsArchive(a)
        #expect(try s.apiRequests().isEmpty)
        #expect(try s.rawRequests().isEmpty)
        let summary = try Scenario.summary(r)
        #expect(summary["transport"] as? String == "clone")
        #expect(summary["fallbackReason"] as? String == "--force-full was given")
        let warning = r.events("warning").first?["message"] as? String
        #expect(warning == "using a shallow clone of \(s.server.gitURL)/acme/hyper.git: --force-full was given")
    }

    @Test func rateLimitResettingPastMaxWaitFallsBack() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "api"}, "action": {"rate_limit_exhausted": true, "reset_in": 3600}}]"#)
        let started = Date()
        let r = try s.runViaFallback("sync", ["--max-wait", "1", "--json"])
        try #require(r.status == 0, "sync failed: \(r.stderrString)\n\(r.stdoutString)")
        #expect(Date().timeIntervalSince(started) < 30)
        try s.expectTargetEqualsArchive(a)
        let summary = try Scenario.summary(r)
        #expect(summary["transport"] as? String == "clone")
        #expect((summary["fallbackReason"] as? String)?.contains("rate limit") == true)
    }

    @Test func notFoundIsReportedNotPaperedOver() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let r = try s.runViaFallback("sync", ["--ref", "no-such-branch"])
        #expect(r.status == 4, "\(r.stderrString)")
        #expect(!r.stderrString.contains("shallow clone"))

        let unknown = try SmartSyncBinary.run(
            [
                "sync", "acme/nope", "--transport", "raw", "--api-url", s.server.apiURL, "--raw-url", s.server.rawURL,
                "--git-url",
                s.server.gitURL, "--retries", "0", "--store", s.store, "--state-dir", s.stateDir, "--target", s.target,
            ], environment: s.environment(), check: false)
        #expect(unknown.status == 4, "\(unknown.stderrString)")
        #expect(!unknown.stderrString.contains("shallow clone"))
        #expect(try s.gitRequests().isEmpty)
    }

    @Test func privateRepositoryTokenGoesToTheGitHostAndIsNeverPrinted() throws {
        let token = "ghp_SECRETtoken1234567890"
        let s = try Scenario(token: token, privateRepo: true)
        let a = try Fixtures.commitA(s.repo)
        try s.server.setFaults(Self.apiDown)
        for extra in [["--json"], ["--verbose"], ["--verbose", "--json"]] {
            try? FileManager.default.removeItem(atPath: s.target)
            try? FileManager.default.removeItem(atPath: s.stateDir)
            let r = try s.runViaFallback("sync", extra, token: token)
            try #require(r.status == 0, "sync \(extra) failed: \(r.stderrString)\n\(r.stdoutString)")
            try s.expectTargetEqualsArchive(a)
            #expect(!r.stdoutString.contains(token) && !r.stderrString.contains(token))
            #expect(!r.stdoutString.contains("SECRET") && !r.stderrString.contains("SECRET"))
        }
        let git = try s.gitRequests()
        #expect(!git.isEmpty)
        #expect(git.allSatisfy { $0.hadAuthorization }, "\(git.map { "\($0.method) \($0.path) \($0.status)" })")

        // Through a git that records its arguments and environment: neither the token nor the header it makes.
        try? FileManager.default.removeItem(atPath: s.target)
        try? FileManager.default.removeItem(atPath: s.stateDir)
        let bin = s.dirs.appending("bin")
        let log = s.dirs.appending("git.log")
        let realGit = try #require(ProcessRunner.find("git", searchPath: "/usr/local/bin:/usr/bin:/bin"))
        try TestFiles.write(
            bin + "/git", "#!/bin/sh\n{ echo \"ARGS: $*\"; env; echo; } >> \(log)\nexec \(realGit) \"$@\"\n",
            mode: 0o755)
        let wrapped = try s.run(
            "sync", ["--git-url", s.server.gitURL, "--retries", "0"], token: token,
            environment: ["PATH": bin + ":/usr/local/bin:/usr/bin:/bin"])
        #expect(wrapped.status == 0, "\(wrapped.stderrString)")
        let calls = TestFiles.read(log) ?? ""
        #expect(calls.contains(" fetch "), "git was not run through the wrapper")
        #expect(!calls.contains(token) && !calls.contains("Authorization"))
        #expect(!calls.contains(Data(("x-access-token:" + token).utf8).base64EncodedString()))
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: s.store + "/tmp")) ?? []
        #expect(!leftovers.contains { $0.hasPrefix("git-config-") }, "\(leftovers)")

        // Without the token, the fallback is refused like the API: exit 4, saying what to set.
        try? FileManager.default.removeItem(atPath: s.target)
        let anonymous = try s.runViaFallback("sync", [])
        #expect(anonymous.status == 4, "\(anonymous.stderrString)")
        #expect(anonymous.stderrString.contains("GH_TOKEN"))
    }

    @Test func tokenIsNotFollowedToAnotherHost() throws {
        let token = "ghp_SECRETtoken1234567890"
        let s = try Scenario(token: token, privateRepo: true)
        _ = try Fixtures.commitA(s.repo)
        let elsewhere = try FakeGitHub(repos: [s.slug: s.repo.path])
        let redirect = "\(elsewhere.gitURL)/acme/hyper.git/info/refs?service=git-upload-pack"
        try s.server.setFaults(#"[{"match": {"listener": "git"}, "action": {"redirect_to": "\#(redirect)"}}]"#)
        let r = try s.runViaFallback("sync", ["--force-full", "--verbose"], token: token)
        #expect(r.status == 5, "a redirected fallback succeeded: \(r.stderrString)")
        #expect(r.stderrString.contains("redirected elsewhere"), "\(r.stderrString)")
        #expect(!r.stderrString.contains(token))
        #expect(try elsewhere.requests().allSatisfy { !$0.hadAuthorization })
        #expect(try s.gitRequests().contains { $0.status == 302 && $0.hadAuthorization })
    }

    @Test func theCloneIgnoresTheUsersAndTheSystemsGitConfig() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let elsewhere = try LoopbackHTTPServer()
        defer { elsewhere.stop() }
        // What a local attacker (or a careless dotfile) could put in git's way: fetches sent to another host, an
        // extra header on every request, another repository.
        let hostile = """
            [url "\(elsewhere.baseURL())/"]
            \tinsteadOf = \(s.server.gitURL)/
            [http]
            \textraHeader = X-Hostile: config
            """
        let files = [
            s.dirs.appending(".gitconfig"), s.dirs.appending("config/git/config"), s.dirs.appending("global"),
            s.dirs.appending("system"),
        ]
        for file in files {
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(hostile.utf8).write(to: URL(fileURLWithPath: file))
        }
        let environment: [String: String?] = [
            "GIT_CONFIG_GLOBAL": files[2], "GIT_CONFIG_SYSTEM": files[3], "GIT_CONFIG_NOSYSTEM": "0",
            "GIT_DIR": s.dirs.appending("nowhere.git"), "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": "X-Hostile: environment",
        ]
        let r = try s.run(
            "sync", ["--git-url", s.server.gitURL, "--force-full", "--json"], environment: environment)
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        #expect(try elsewhere.snapshot().requests.isEmpty)
        let git = try s.gitRequests()
        #expect(!git.isEmpty)
        #expect(git.allSatisfy { $0.headers["x-hostile"] == nil }, "\(git.map(\.headers))")
    }

    @Test func updateThroughTheFallbackEqualsArchiveOfB() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let b = try Fixtures.commitB(s.repo)
        try s.server.setFaults(Self.apiDown)
        let r = try s.runViaFallback("sync", ["--json"])
        try #require(r.status == 0, "sync failed: \(r.stderrString)\n\(r.stdoutString)")
        try s.expectTargetEqualsArchive(b)
        let summary = try Scenario.summary(r)
        #expect(summary["transport"] as? String == "clone")
        #expect(summary["previousCommit"] as? String == (try s.repo.revParse("HEAD~1")))
        // The state names B: once the API is back, a sync is a no-op.
        try s.server.clearFaults()
        try s.server.clearLog()
        let again = try s.sync()
        #expect((again["plan"] as? [String: Any])?["upToDate"] as? Bool == true)
        #expect(try s.rawRequests().isEmpty)
    }

    @Test func warmThroughTheFallbackFillsTheStore() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.repo.tag("v1")
        let b = try Fixtures.commitB(s.repo)
        try s.server.setFaults(Self.apiDown)
        let r = try s.runViaFallback("warm", ["--ref", "v1", "--ref", "main", "--json"])
        try #require(r.status == 0, "warm failed: \(r.stderrString)\n\(r.stdoutString)")
        let summaries = r.events("summary")
        #expect(summaries.map { $0["commit"] as? String } == [a, b])
        #expect(summaries.allSatisfy { $0["transport"] as? String == "clone" })
        #expect(r.events("warning").count == 1)
        // Every blob of both commits is in the store: syncing either through the API downloads nothing.
        try s.server.clearFaults()
        try s.server.clearLog()
        try s.sync(["--ref", "v1"])
        try s.expectTargetEqualsArchive(a)
        try s.sync(["--ref", "main"])
        try s.expectTargetEqualsArchive(b)
        #expect(try s.rawRequests().isEmpty)
        #expect(try s.gitRequests().isEmpty)
    }
}

extension Scenario {
    /// `run` with the git listener as `--git-url` and no retries (the fallback comes after retries are spent).
    func runViaFallback(_ command: String, _ extra: [String], token: String? = nil) throws -> ProcessResult {
        try run(command, ["--git-url", server.gitURL, "--retries", "0"] + extra, token: token)
    }

    /// Git smart-HTTP requests logged since the last clear.
    func gitRequests() throws -> [LoggedRequest] { try server.requests().filter { $0.listener == "git" } }
}

extension ProcessResult {
    /// The NDJSON events on stdout named `name`.
    func events(_ name: String) -> [[String: Any]] {
        stdoutString.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.filter { $0["event"] as? String == name }
    }
}
