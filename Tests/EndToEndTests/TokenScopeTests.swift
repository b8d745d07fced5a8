import Foundation
import TestSupport
import Testing

/// Where the token comes from for the configured host, and which hosts it reaches.
@Suite("token discovery and scope", .serialized)
struct TokenScopeTests {
    static let token = "ghp_TOKENSCOPETOKENSCOPE"

    /// `host[:port]` of a loopback URL, as GitHub's CLI names a host.
    private func host(of url: String) -> String { String(url.dropFirst("http://".count)) }

    @Test func ghIsAskedForTheTokenOfTheConfiguredHost() throws {
        let s = try Scenario(token: Self.token, privateRepo: true)
        let a = try Fixtures.commitA(s.repo)
        // A stand-in for GitHub's CLI: it knows a token for the API's host only, and logs how it was asked.
        let bin = s.dirs.appending("bin")
        let log = s.dirs.appending("gh.log")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try Self.writeScript(
            bin + "/gh",
            """
            #!/bin/sh
            echo "$*" >> \(log)
            [ "$*" = "auth token --hostname \(host(of: s.server.apiURL))" ] && echo \(Self.token) && exit 0
            echo "no oauth token found for github.com" >&2
            exit 1

            """)
        let r = try s.run("sync", ["--json"], environment: ["PATH": bin + ":/usr/local/bin:/usr/bin:/bin"])
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        let asked = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(asked == "auth token --hostname \(host(of: s.server.apiURL))\n")
        #expect(!r.stdoutString.contains(Self.token) && !r.stderrString.contains(Self.token))
    }

    @Test(arguments: ["GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"])
    func anEnterpriseHostTakesTheEnterpriseVariables(_ variable: String) throws {
        let s = try Scenario(token: Self.token, privateRepo: true)
        let a = try Fixtures.commitA(s.repo)
        let r = try s.run("sync", ["--json"], environment: [variable: Self.token])
        #expect(r.status == 0, "\(variable): \(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        let requests = try s.server.requests().filter { $0.status == 200 }
        #expect(!requests.isEmpty && requests.allSatisfy { $0.hadAuthorization })
    }

    @Test func anEnterpriseAPIWithoutRawURLKeepsBlobsAndTheTokenOnItsOwnHost() throws {
        let s = try Scenario(token: Self.token, privateRepo: true)
        let a = try Fixtures.commitA(s.repo)
        let other = try LoopbackHTTPServer()
        defer { other.stop() }
        // The tree listing and one blob are redirected through another host and back: that host gets no token.
        let detour = { (path: String) in
            other.baseURL() + "/redirect?status=302&to="
                + (s.server.apiURL + path).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        }
        let tree = try s.repo.revParse("\(a)^{tree}")
        let blob = try s.repo.revParse("\(a):README.md")
        try s.server.setFaults(
            """
            [{"match": {"listener": "api", "path_regex": "/git/trees/"}, "times": 1,
              "action": {"redirect_to": "\(detour("/repos/acme/hyper/git/trees/\(tree)?recursive=1"))"}},
             {"match": {"listener": "api", "path_regex": "/git/blobs/\(blob)"}, "times": 1,
              "action": {"redirect_to": "\(detour("/repos/acme/hyper/git/blobs/\(blob)"))"}}]
            """)
        // No --raw-url: an Enterprise API (anything but api.github.com) must not send its blobs, or its token, to
        // GitHub's raw host.
        let args = [
            "sync", s.slug, "--api-url", s.server.apiURL, "--git-url", s.server.gitURL, "--transport", "raw",
            "--retries", "0", "--store", s.store, "--state-dir", s.stateDir, "--target", s.target, "--json",
        ]
        let r = try SmartSyncBinary.run(args, environment: s.environment(token: Self.token), check: false)
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        let summary = try Scenario.summary(r)
        #expect(summary["transport"] as? String == "raw", "\(summary)")
        let requests = try s.server.requests()
        #expect(requests.allSatisfy { $0.listener == "api" }, "\(requests.map { "\($0.listener) \($0.path)" })")
        #expect(requests.filter { $0.status == 200 }.allSatisfy { $0.hadAuthorization })
        #expect(requests.contains { $0.path.contains("/git/blobs/") && $0.status == 200 })
        let detoured = try other.snapshot().requests
        #expect(detoured.count == 2, "\(detoured.map(\.path))")
        #expect(detoured.allSatisfy { $0.authorization == nil })
    }

    static func writeScript(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }
}
