import Foundation
import TestSupport
import Testing

/// The test server's git smart-HTTP listener (`git http-backend` behind it).
@Suite(.serialized)
struct FakeGitHubGitTests {
    /// git with no user config, no prompts, and the loopback server kept off any proxy.
    static let gitEnvironment: [String: String?] = [
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": nil,
        "SSH_ASKPASS": nil, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    ]

    @discardableResult
    static func git(_ args: [String], check: Bool = true) throws -> ProcessResult {
        try ProcessRunner.run("git", args, environment: gitEnvironment, check: check)
    }

    @Test func cloneAndFetchBySHAWork() throws {
        let demo = try Demo(bare: true)
        let gh = try FakeGitHub(repos: ["octo/demo": demo.repo.path])
        let dir = try TemporaryDirectory(prefix: "git-listener")

        try Self.git(["clone", "-q", "--depth", "1", gh.gitURL("octo/demo"), dir.appending("clone")])
        let head = try Self.git(["-C", dir.appending("clone"), "rev-parse", "HEAD"]).output
        #expect(head == demo.second)
        #expect(try Self.git(["-C", dir.appending("clone"), "rev-parse", "--is-shallow-repository"]).output == "true")

        // A full SHA that no ref points at any more than a branch does: allowed, as on GitHub.
        try Self.git(["init", "-q", "--bare", dir.appending("bare")])
        try Self.git(["-C", dir.appending("bare"), "fetch", "-q", "--depth", "1", gh.gitURL("octo/demo"), demo.first])
        #expect(try Self.git(["-C", dir.appending("bare"), "rev-parse", "FETCH_HEAD"]).output == demo.first)

        let logged = try gh.requests().filter { $0.listener == "git" }
        #expect(logged.contains { $0.method == "GET" && $0.path.contains("/octo/demo.git/info/refs") })
        #expect(logged.contains { $0.method == "POST" && $0.path.hasSuffix("/octo/demo.git/git-upload-pack") })
        #expect(logged.allSatisfy { $0.status == 200 })
        #expect(try Self.git(["ls-remote", gh.gitURL("octo/nope")], check: false).status != 0)
        #expect(gh.serverErrors().isEmpty, "\(gh.serverErrors())")
    }

    @Test func privateRepositoryNeedsTheToken() throws {
        let demo = try Demo(bare: true)
        let gh = try FakeGitHub(repos: ["octo/demo": demo.repo.path], privateRepos: ["octo/demo"], token: "s3cret")
        let url = gh.gitURL("octo/demo")

        let anonymous = try Self.git(["ls-remote", url], check: false)
        #expect(anonymous.status != 0)
        #expect(try gh.requests().contains { $0.listener == "git" && $0.status == 401 })
        let challenge = try curl(url + "/info/refs?service=git-upload-pack")
        #expect(challenge.status == 401)
        #expect(challenge.headers["www-authenticate"] == #"Basic realm="GitHub""#)

        let bearer = ["-c", "http.\(gh.gitURL)/.extraHeader=Authorization: Bearer s3cret"]
        #expect(try Self.git(bearer + ["ls-remote", url, "refs/heads/main"]).output.hasPrefix(demo.second))
        let basic = "Basic " + Data("x-access-token:s3cret".utf8).base64EncodedString()
        let viaBasic = ["-c", "http.\(gh.gitURL)/.extraHeader=Authorization: \(basic)"]
        #expect(try Self.git(viaBasic + ["ls-remote", url, "refs/heads/main"]).output.hasPrefix(demo.second))
        let wrong = ["-c", "http.\(gh.gitURL)/.extraHeader=Authorization: Bearer nope"]
        #expect(try Self.git(wrong + ["ls-remote", url], check: false).status != 0)

        // The log records that a token came, never the token.
        let log = try String(contentsOfFile: gh.logPath, encoding: .utf8)
        #expect(!log.contains("s3cret"))
        #expect(try gh.requests().contains { $0.listener == "git" && $0.hadAuthorization && $0.status == 200 })
    }

    @Test func faultRulesApplyToTheGitListener() throws {
        let demo = try Demo(bare: true)
        let gh = try FakeGitHub(repos: ["octo/demo": demo.repo.path])
        try gh.setFaults(#"[{"match": {"listener": "git"}, "times": 1, "action": {"status": 503}}]"#)
        #expect(try Self.git(["ls-remote", gh.gitURL("octo/demo")], check: false).status != 0)
        #expect(try Self.git(["ls-remote", gh.gitURL("octo/demo")]).output.contains(demo.second))
        let statuses = try gh.requests().filter { $0.listener == "git" }.map(\.status)
        #expect(statuses.first == 503)
    }
}
