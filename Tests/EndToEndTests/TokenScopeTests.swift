import Foundation
import Testing
import TestSupport

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

    static func writeScript(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }
}
