import Glibc

/// The environment a child process starts with. ``ProcessRunner`` never lets a child inherit ours implicitly: every
/// caller passes the whole environment, built here, so what a child gets is decided in one place.
public enum ChildEnvironment {
    /// The variables a GitHub token is kept in: those smart-sync and GitHub's CLI read (`GH_TOKEN`, `GITHUB_TOKEN`,
    /// `GH_ENTERPRISE_TOKEN`, `GITHUB_ENTERPRISE_TOKEN`) and `GITHUB_PAT`, which other GitHub tools read. No child
    /// process smart-sync starts (git, nix, the rebuild command) gets them.
    public static let tokenVariables = [
        "GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN", "GITHUB_PAT",
    ]

    /// `environment` without ``tokenVariables``.
    public static func withoutTokens(_ environment: [String: String]) -> [String: String] {
        environment.filter { !tokenVariables.contains($0.key) }
    }

    /// This process's environment, as it is now (tokens included: callers drop them with ``withoutTokens(_:)``).
    public static var current: [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }

    /// This process's environment without ``tokenVariables``: the default start for a child.
    public static var inheritedWithoutTokens: [String: String] { withoutTokens(current) }

    /// `base` with `changes` applied: a value sets a variable, nil removes it.
    public static func applying(_ changes: [String: String?], to base: [String: String]) -> [String: String] {
        var result = base
        for (key, value) in changes { result[key] = value }
        return result
    }
}
