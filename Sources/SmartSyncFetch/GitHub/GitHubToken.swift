import Foundation
import SmartSyncTransfer

/// A GitHub credential. Its description is redacted, so it cannot leak through string interpolation.
public struct GitHubToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Where the token came from, for messages ("GH_TOKEN", "~/.config/github/token", ...).
    public let origin: String
    private let value: String

    public init(_ value: String, origin: String) {
        self.value = value.trimmingCharacters(in: .whitespacesAndNewlines)
        self.origin = origin
    }

    /// The `Authorization` header value.
    public var authorizationHeader: String { "Bearer " + value }

    public var description: String { "<token from \(origin)>" }
    public var debugDescription: String { description }

    /// The variables a GitHub token is kept in: those smart-sync and GitHub's CLI read (`GH_TOKEN`, `GITHUB_TOKEN`,
    /// `GH_ENTERPRISE_TOKEN`, `GITHUB_ENTERPRISE_TOKEN`) and `GITHUB_PAT`, which other GitHub tools read. No child
    /// process smart-sync starts (git, the rebuild command) gets them.
    public static let environmentVariables = [
        "GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN", "GITHUB_PAT",
    ]

    /// `environment` without ``environmentVariables``: what a child process gets.
    public static func withoutTokens(_ environment: [String: String]) -> [String: String] {
        environment.filter { !environmentVariables.contains($0.key) }
    }

    /// The host GitHub's CLI knows an API by (`gh auth token --hostname HOST`): `github.com` for
    /// `https://api.github.com`, `TENANT.ghe.com` for `https://api.TENANT.ghe.com`, else the API URL's `host[:port]`
    /// (GitHub Enterprise Server: `https://HOST/api/v3` → `HOST`).
    public static func host(forAPIURL apiURL: String) -> String {
        let host = RequestURL.hostKey(of: apiURL) ?? "github.com"
        if host == "api.github.com" { return "github.com" }
        if host.hasPrefix("api."), host.hasSuffix(".ghe.com") { return String(host.dropFirst("api.".count)) }
        return host
    }

    /// Finds a token for the API at `apiURL` the way GitHub's CLI users expect, or nil when there is none:
    ///
    /// 1. for a GitHub Enterprise Server host (anything but github.com and `*.ghe.com`): `GH_ENTERPRISE_TOKEN`, then
    ///    `GITHUB_ENTERPRISE_TOKEN`;
    /// 2. `GH_TOKEN`, then `GITHUB_TOKEN` (for any host: the operator set them for smart-sync);
    /// 3. the file `$XDG_CONFIG_HOME/github/token` (default `~/.config/github/token`);
    /// 4. `gh auth token --hostname HOST` (``host(forAPIURL:)``) when gh is on `PATH`.
    public static func discover(
        apiURL: String = "https://api.github.com", environment: [String: String] = ProcessInfo.processInfo.environment,
        askGH: Bool = true
    ) -> GitHubToken? {
        let host = host(forAPIURL: apiURL)
        let enterprise = host != "github.com" && !host.hasSuffix(".ghe.com")
        let variables = (enterprise ? ["GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"] : []) + ["GH_TOKEN", "GITHUB_TOKEN"]
        for name in variables {
            if let v = environment[name], !v.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                return GitHubToken(v, origin: name)
            }
        }
        let configHome = environment["XDG_CONFIG_HOME"] ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.config")
        let file = configHome + "/github/token"
        if let data = FileManager.default.contents(atPath: file) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { return GitHubToken(text, origin: file) }
        }
        if askGH, let token = ghAuthToken(host: host, environment: environment) { return token }
        return nil
    }

    private static func ghAuthToken(host: String, environment: [String: String]) -> GitHubToken? {
        let path = environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let gh = path.split(separator: ":").map({ String($0) + "/gh" }).first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: gh)
        p.arguments = ["auth", "token", "--hostname", host]
        p.environment = environment
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !text.isEmpty
            ? GitHubToken(text, origin: "gh auth token --hostname \(host)") : nil
    }
}
