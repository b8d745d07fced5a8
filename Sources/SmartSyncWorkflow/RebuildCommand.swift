import FoundationEssentials
import Glibc
import SmartSyncCore

/// The command `smart-sync update` runs after a switch to make the system use the new tree: by default
/// `nixos-rebuild {action} --flake {target}#{hostname}`, run through `/bin/sh -c`.
public struct RebuildCommand: Sendable, Equatable {
    /// What `nixos-rebuild` is asked to do.
    public enum Action: String, Sendable, CaseIterable {
        /// Build the system only; nothing running changes.
        case build
        /// Build and activate, without making it the boot default.
        case test
        /// Build, activate and make it the boot default.
        case `switch`
    }

    /// The default template.
    public static let defaultTemplate = "nixos-rebuild {action} --flake {target}#{hostname}"

    /// The command line with `{action}`, `{target}` and `{hostname}` placeholders.
    public var template: String
    public var action: Action
    /// The flake's host attribute (default: this machine's host name).
    public var hostname: String

    public init(template: String = defaultTemplate, action: Action = .switch, hostname: String? = nil) {
        self.template = template
        self.action = action
        self.hostname = hostname ?? Self.localHostname()
    }

    /// True when running the command changes the running system (`test`, `switch`): after a rollback, it must run
    /// again for the old tree.
    public var changesRunningSystem: Bool { action != .build }

    /// The shell command line for `target`: the placeholders replaced, each value shell-quoted where needed.
    public func commandLine(target: String) -> String {
        let values = [
            "{action}": Self.shellQuote(action.rawValue), "{target}": Self.shellQuote(target),
            "{hostname}": Self.shellQuote(hostname),
        ]
        // One pass, so a value that itself contains a placeholder is not substituted again.
        var result = ""
        var rest = template[...]
        while !rest.isEmpty {
            if let (key, value) = values.first(where: { rest.hasPrefix($0.key) }) {
                result += value
                rest = rest.dropFirst(key.count)
            } else {
                result.append(rest.removeFirst())
            }
        }
        return result
    }

    /// Fails with a message naming the ways out when the default command's `nixos-rebuild` is not on `searchPath`.
    /// A custom command is not looked into (it may be a shell builtin or a pipeline); the shell's 127 says it.
    public func checkAvailable(searchPath: [String]) throws {
        guard template == Self.defaultTemplate else { return }
        let found = searchPath.contains { dir in access(dir + "/nixos-rebuild", X_OK) == 0 }
        if !found {
            throw SmartSyncError(
                .commandFailed,
                "the rebuild needs nixos-rebuild, and none is on PATH (\(searchPath.joined(separator: ":"))); "
                    + "nothing was changed",
                hint: "on a machine without NixOS pass --skip-rebuild, or name another command with "
                    + "--rebuild-command 'CMD' ({action}, {target} and {hostname} are substituted)"
            )
        }
    }

    /// This machine's host name (`gethostname`), or `localhost` when it has none.
    public static func localHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// `s` as one shell word: unchanged when it holds only safe characters, else in single quotes.
    public static func shellQuote(_ s: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")
        if !s.isEmpty && s.allSatisfy({ safe.contains($0) }) { return s }
        return "'" + s.replacing("'", with: "'\\''") + "'"
    }
}
