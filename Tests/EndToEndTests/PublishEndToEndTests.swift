import Foundation
import TestSupport
import Testing

/// `smart-sync publish`, the command: from the fake GitHub with a token, from a local repository, and its refusals.
@Suite("publish", .serialized)
struct PublishEndToEndTests {
    static let token = "ghp_PUBLISHENDTOENDTOKEN"

    @Test func fromGitHubTheTokenReachesNeitherOutputNorGitsEnvironment() throws {
        let s = try Scenario(token: Self.token, privateRepo: true)
        let a = try Fixtures.commitA(s.repo)
        // A git in front of the real one that records its arguments and environment.
        let bin = s.dirs.appending("bin")
        let log = s.dirs.appending("git.log")
        let realGit = try #require(ProcessRunner.find("git", searchPath: "/usr/local/bin:/usr/bin:/bin"))
        try TestFiles.write(
            bin + "/git", "#!/bin/sh\n{ echo \"ARGS: $*\"; env; echo; } >> \(log)\nexec \(realGit) \"$@\"\n",
            mode: 0o755)
        let mirror = s.dirs.appending("mirror")
        let args = [
            "publish", s.slug, "--ref", "main", "--to", mirror, "--api-url", s.server.apiURL, "--git-url",
            s.server.gitURL, "--store", s.store, "--json",
        ]
        let env = s.environment(token: Self.token).merging(["PATH": bin + ":/usr/local/bin:/usr/bin:/bin"]) { $1 }
        let r = try SmartSyncBinary.run(args, environment: env, check: false)
        #expect(r.status == 0, "\(r.stderrString)")
        let summary = try Scenario.summary(r)
        #expect(summary["command"] as? String == "publish")
        #expect(summary["refs"] as? [String: String] == ["main": a])
        let refs = try #require(TestFiles.read(mirror + "/refs"))
        #expect(refs.contains("\"repository\":\"acme/hyper\"") && refs.contains("\"main\":\"\(a)\""))
        #expect(!r.stdoutString.contains(Self.token) && !r.stderrString.contains(Self.token))
        let calls = TestFiles.read(log) ?? ""
        #expect(calls.contains("ARGS:") && calls.contains(" fetch "), "git was not run through the wrapper")
        #expect(!calls.contains(Self.token))
        #expect(!calls.contains("GH_TOKEN"))
        // Nor the header git sends (base64 of x-access-token:TOKEN), in no argument and no variable.
        #expect(!calls.contains(Data(("x-access-token:" + Self.token).utf8).base64EncodedString()))
        #expect(!calls.contains("GIT_CONFIG_VALUE") && !calls.contains("Authorization"))
        // The call's config file (where the header was) is gone once git returned.
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: s.store + "/tmp")) ?? []
        #expect(!leftovers.contains { $0.hasPrefix("git-config-") }, "\(leftovers)")
        let requests = try s.server.requests().filter { $0.listener == "git" }
        #expect(!requests.isEmpty && requests.allSatisfy(\.hadAuthorization))

        // The second publish of a new commit: the human line says what was new.
        try s.repo.write("README.md", "# hyper, again\n")
        let b = try s.repo.commit("B")
        let again = try SmartSyncBinary.run(
            Array(args.dropLast()), environment: env.merging(["PATH": "/usr/local/bin:/usr/bin:/bin"]) { $1 },
            check: false)
        #expect(again.status == 0, "\(again.stderrString)")
        #expect(again.stderrString.contains("main → \(b.prefix(12))"), "\(again.stderrString)")
        #expect(again.stderrString.contains("new: 1 commits"), "\(again.stderrString)")
        #expect(!again.stderrString.contains(Self.token))
    }

    @Test func fromASourceRefusesABadRefAndAnotherRepositorysDirectory() throws {
        let repo = try GitFixture()
        try repo.write("a.txt", "a\n")
        let a = try repo.commit("a")
        let dirs = try TemporaryDirectory(prefix: "publish-e2e")
        let mirror = dirs.appending("mirror")
        let env: [String: String?] = ["GH_TOKEN": nil, "GITHUB_TOKEN": nil, "NO_COLOR": "1"]
        let bad = try SmartSyncBinary.run(
            ["publish", "--source", repo.path, "--ref", "main", "--ref", "nope", "--to", mirror], environment: env,
            check: false)
        #expect(bad.status == 4)
        #expect(bad.stderrString.contains("'nope'"), "\(bad.stderrString)")

        let ok = try SmartSyncBinary.run(
            [
                "publish", "--source", repo.path, "--ref", "main", "--to", mirror, "--name", "acme/one", "--expires-in",
                "1h",
            ],
            environment: env, check: false)
        #expect(ok.status == 0, "\(ok.stderrString)")
        let refs = TestFiles.read(mirror + "/refs") ?? ""
        #expect(refs.contains("\"main\":\"\(a)\"") && refs.contains("\"repository\":\"acme/one\""))

        let other = try SmartSyncBinary.run(
            ["publish", "--source", repo.path, "--ref", "main", "--to", mirror, "--name", "acme/two"],
            environment: env, check: false)
        #expect(other.status == 6)
        #expect(other.stderrString.contains("acme/one"), "\(other.stderrString)")

        let usage = try SmartSyncBinary.run(
            ["publish", "--source", repo.path, "--to", mirror], environment: env, check: false)
        #expect(usage.status == 64)
    }
}
