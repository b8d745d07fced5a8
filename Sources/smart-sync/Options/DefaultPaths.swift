import FoundationEssentials
import Glibc

/// Where smart-sync keeps its store and state when no flag says otherwise: system directories as root,
/// XDG directories for everyone else.
enum DefaultPaths {
    static var isRoot: Bool { geteuid() == 0 }

    /// `/var/cache/smart-sync` as root, else `$XDG_CACHE_HOME/smart-sync` (`~/.cache/smart-sync`).
    static var store: String {
        if isRoot { return "/var/cache/smart-sync" }
        let env = ProcessInfo.processInfo.environment
        return (env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.cache") + "/smart-sync"
    }

    /// `/var/lib/smart-sync` as root, else `$XDG_STATE_HOME/smart-sync` (`~/.local/state/smart-sync`).
    static var state: String {
        if isRoot { return "/var/lib/smart-sync" }
        let env = ProcessInfo.processInfo.environment
        return (env["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/state") + "/smart-sync"
    }

    private static var home: String {
        ProcessInfo.processInfo.environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
    }
}
