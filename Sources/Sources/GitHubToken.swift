import Foundation

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

    /// Finds a token the way the GitHub CLI's users expect: `GH_TOKEN`, `GITHUB_TOKEN`,
    /// `~/.config/github/token`, then `gh auth token` when gh is installed. Nil when there is none.
    public static func discover(
        environment: [String: String] = ProcessInfo.processInfo.environment, askGH: Bool = true
    ) -> GitHubToken? {
        for name in ["GH_TOKEN", "GITHUB_TOKEN"] {
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
        if askGH, let token = ghAuthToken(environment: environment) { return token }
        return nil
    }

    private static func ghAuthToken(environment: [String: String]) -> GitHubToken? {
        let path = environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let gh = path.split(separator: ":").map({ String($0) + "/gh" }).first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: gh)
        p.arguments = ["auth", "token"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !text.isEmpty ? GitHubToken(text, origin: "gh auth token") : nil
    }
}
