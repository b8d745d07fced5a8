import Foundation
import SmartSyncCore
import SmartSyncFetch
import TestSupport
import Testing

/// Where the token comes from for the configured host.
@Suite("GitHubToken")
struct GitHubTokenTests {
    /// A home with no token file and a `gh` that answers `token-for-HOST` for any `--hostname HOST`, logging its
    /// arguments.
    struct Home {
        let dir: TemporaryDirectory
        var log: String { dir.appending("gh.log") }

        init() throws {
            dir = try TemporaryDirectory(prefix: "token-home")
            try FileManager.default.createDirectory(atPath: dir.appending("bin"), withIntermediateDirectories: true)
            let gh = dir.appending("bin/gh")
            let script = """
                #!/bin/sh
                echo "$*" >> \(log)
                [ "$1 $2 $3" = "auth token --hostname" ] && [ -n "$4" ] && echo "token-for-$4" && exit 0
                exit 1

                """
            try Data(script.utf8).write(to: URL(fileURLWithPath: gh))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: gh)
        }

        func environment(_ more: [String: String] = [:]) -> [String: String] {
            ["HOME": dir.path, "PATH": dir.appending("bin") + ":/usr/bin:/bin"].merging(more) { $1 }
        }

        func discover(_ apiURL: String, _ more: [String: String] = [:]) -> String? {
            GitHubToken.discover(apiURL: apiURL, environment: environment(more))?.origin
        }
    }

    @Test func ghCLIHostNames() {
        #expect(GitHubToken.host(forAPIURL: "https://api.github.com") == "github.com")
        #expect(GitHubToken.host(forAPIURL: "https://api.github.com/") == "github.com")
        #expect(GitHubToken.host(forAPIURL: "https://ghe.corp/api/v3") == "ghe.corp")
        #expect(GitHubToken.host(forAPIURL: "https://ghe.corp:8443/api/v3") == "ghe.corp:8443")
        #expect(GitHubToken.host(forAPIURL: "https://api.acme.ghe.com") == "acme.ghe.com")
    }

    @Test func ghIsAskedForTheConfiguredHost() throws {
        let home = try Home()
        let token = GitHubToken.discover(apiURL: "https://ghe.corp/api/v3", environment: home.environment())
        #expect(token?.origin == "gh auth token --hostname ghe.corp")
        #expect(token?.authorizationHeader == "Bearer token-for-ghe.corp")
        #expect(home.discover("https://api.github.com") == "gh auth token --hostname github.com")
        #expect(
            try String(contentsOfFile: home.log, encoding: .utf8).split(separator: "\n") == [
                "auth token --hostname ghe.corp", "auth token --hostname github.com",
            ])
        #expect(
            GitHubToken.discover(apiURL: "https://ghe.corp/api/v3", environment: home.environment(), askGH: false)
                == nil)
    }

    @Test func variablesComeFirstAndEnterpriseOnesOnlyForEnterpriseHosts() throws {
        let home = try Home()
        let all = [
            "GH_TOKEN": "a", "GITHUB_TOKEN": "b", "GH_ENTERPRISE_TOKEN": "c", "GITHUB_ENTERPRISE_TOKEN": "d",
        ]
        #expect(home.discover("https://api.github.com", all) == "GH_TOKEN")
        #expect(home.discover("https://ghe.corp/api/v3", all) == "GH_ENTERPRISE_TOKEN")
        #expect(
            home.discover("https://ghe.corp/api/v3", ["GITHUB_ENTERPRISE_TOKEN": "d", "GH_TOKEN": "a"])
                == "GITHUB_ENTERPRISE_TOKEN")
        #expect(home.discover("https://ghe.corp/api/v3", ["GITHUB_TOKEN": "b"]) == "GITHUB_TOKEN")
        // github.com (and GitHub's *.ghe.com tenancies) never take an Enterprise Server token.
        #expect(
            home.discover("https://api.github.com", ["GH_ENTERPRISE_TOKEN": "c"])
                == "gh auth token --hostname github.com")
        #expect(
            home.discover("https://api.acme.ghe.com", ["GITHUB_ENTERPRISE_TOKEN": "d"])
                == "gh auth token --hostname acme.ghe.com")
        // Blank variables are no token; the token file comes before gh.
        try FileManager.default.createDirectory(
            atPath: home.dir.appending(".config/github"), withIntermediateDirectories: true)
        try Data("from-file\n".utf8).write(to: URL(fileURLWithPath: home.dir.appending(".config/github/token")))
        #expect(
            home.discover("https://api.github.com", ["GH_TOKEN": "  "]) == home.dir.appending(".config/github/token"))
    }

    @Test func systemdCredentialsComeBeforeTheVariables() throws {
        let home = try Home()
        let credentials = home.dir.appending("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        let set = ["CREDENTIALS_DIRECTORY": credentials, "GH_TOKEN": "a", "GH_ENTERPRISE_TOKEN": "c"]
        // Set but without gh-token (another credential was loaded): the variables as before.
        #expect(home.discover("https://api.github.com", set) == "GH_TOKEN")
        try Data("from-systemd\n".utf8).write(to: URL(fileURLWithPath: credentials + "/gh-token"))
        let token = GitHubToken.discover(apiURL: "https://ghe.corp/api/v3", environment: home.environment(set))
        #expect(token?.origin == "$CREDENTIALS_DIRECTORY/gh-token")
        #expect(token?.authorizationHeader == "Bearer from-systemd")
        #expect(home.discover("https://api.github.com", ["GH_TOKEN": "a"]) == "GH_TOKEN")
    }

    @Test func aTokenFileIsReadWithoutItsNewlineAndAMissingOneIsAnError() throws {
        let home = try Home()
        let file = home.dir.appending("token")
        try Data("secret-value\n".utf8).write(to: URL(fileURLWithPath: file))
        let token = try GitHubToken.read(file: file)
        #expect(token.authorizationHeader == "Bearer secret-value" && token.origin == file)
        #expect("\(token)" == "<token from \(file)>")
        #expect(throws: SmartSyncError.self) { try GitHubToken.read(file: home.dir.appending("missing")) }
        try Data("\n".utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: SmartSyncError.self) { try GitHubToken.read(file: file) }
    }

    @Test func aTokenPrintsOnlyWhereItCameFrom() {
        #expect("\(GitHubToken("secret", origin: "GH_TOKEN"))" == "<token from GH_TOKEN>")
    }
}
