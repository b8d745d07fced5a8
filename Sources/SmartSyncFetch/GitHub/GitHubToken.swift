import FoundationEssentials
import SmartSyncCore
import SmartSyncTransfer

/// A GitHub credential. Its description is redacted, so it cannot leak through string interpolation.
public struct GitHubToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Where the token came from, for messages ("GH_TOKEN", "~/.config/github/token", ...).
    public let origin: String
    private let value: String

    public init(_ value: String, origin: String) {
        self.value = value.trimmed()
        self.origin = origin
    }

    /// The `Authorization` header value.
    public var authorizationHeader: String { "Bearer " + value }

    public var description: String { "<token from \(origin)>" }
    public var debugDescription: String { description }

    /// The host GitHub's CLI knows an API by (`gh auth token --hostname HOST`): `github.com` for
    /// `https://api.github.com`, `TENANT.ghe.com` for `https://api.TENANT.ghe.com`, else the API URL's `host[:port]`
    /// (GitHub Enterprise Server: `https://HOST/api/v3` → `HOST`).
    public static func host(forAPIURL apiURL: String) -> String {
        let host = URLAuthority.hostKey(of: apiURL) ?? "github.com"
        if host == "api.github.com" { return "github.com" }
        if host.hasPrefix("api."), host.hasSuffix(".ghe.com") { return String(host.dropFirst("api.".count)) }
        return host
    }

    /// The file name systemd's `LoadCredential=` gives the token in `$CREDENTIALS_DIRECTORY`.
    public static let credentialName = "gh-token"

    /// The token held in `file` (a target's `token_file`): its content, surrounding whitespace and the trailing
    /// newline stripped. A file that is missing, unreadable or empty is an error naming it (never its content).
    public static func read(file: String) throws -> GitHubToken {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw SmartSyncError(
                .notFound, "the token file \(file) cannot be read",
                hint: "check token_file in the config file: it must name a file this user can read")
        }
        let text = String(decoding: data, as: UTF8.self).trimmed()
        guard !text.isEmpty else {
            throw SmartSyncError(.invalidArgument, "the token file \(file) is empty", hint: "write the token into it")
        }
        return GitHubToken(text, origin: file)
    }

    /// Finds a token for the API at `apiURL` the way GitHub's CLI users expect, or nil when there is none:
    ///
    /// 0. `$CREDENTIALS_DIRECTORY/gh-token` when systemd set `CREDENTIALS_DIRECTORY` (`LoadCredential=gh-token:…`):
    ///    the operator gave it to this service, for whatever host it talks to;
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
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            let file = directory + "/" + credentialName
            if let data = FileManager.default.contents(atPath: file) {
                let text = String(decoding: data, as: UTF8.self).trimmed()
                if !text.isEmpty { return GitHubToken(text, origin: "$CREDENTIALS_DIRECTORY/\(credentialName)") }
            }
        }
        let enterprise = host != "github.com" && !host.hasSuffix(".ghe.com")
        let variables =
            (enterprise ? ["GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"] : []) + ["GH_TOKEN", "GITHUB_TOKEN"]
        for name in variables {
            if let v = environment[name], !v.trimmed().isEmpty {
                return GitHubToken(v, origin: name)
            }
        }
        let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        let configHome = environment["XDG_CONFIG_HOME"] ?? (home + "/.config")
        let file = configHome + "/github/token"
        if let data = FileManager.default.contents(atPath: file) {
            let text = String(decoding: data, as: UTF8.self).trimmed()
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
        // gh is asked for the token, so it gets the environment it would have in the operator's shell.
        let asked = ProcessRunner(gh, ["auth", "token", "--hostname", host], environment: environment)
        guard let r = try? asked.runAndWait(output: .capture(limit: 1 << 20), error: .discard) else { return nil }
        return r.succeeded && !r.output.isEmpty
            ? GitHubToken(r.output, origin: "gh auth token --hostname \(host)") : nil
    }
}
