import FoundationEssentials
import SmartSyncCore

/// An allowed-signers file (ssh-keygen(1), "ALLOWED SIGNERS"; git's `gpg.ssh.allowedSignersFile`): which keys may
/// sign for which principals, in which namespaces, and when.
///
/// Each line is `principals [options] keytype base64-key [comment]`: principals a comma-separated pattern list
/// (`*`, `?`, `!` negation), options among `namespaces="…"`, `valid-after="…"` and `valid-before="…"`
/// (`YYYYMMDD[HHMM[SS]]`, local time, or UTC with a `Z` suffix). `#` comments and blank lines are skipped.
/// `cert-authority` lines are refused: this module verifies plain keys, not certificates.
///
/// Parsing is strict: a malformed line is an error naming `path:line` when the file is loaded, where ssh-keygen
/// only fails when a lookup reaches that line.
public struct AllowedSigners: Sendable {
    /// One line of the file.
    public struct Entry: Sendable, Equatable {
        /// The principals field: a comma-separated pattern list.
        public var principals: String
        /// The `namespaces="…"` option: a pattern list, nil when the line allows every namespace.
        public var namespaces: String?
        /// `valid-after`, in seconds since the epoch.
        public var validAfter: Int64?
        /// `valid-before`, in seconds since the epoch.
        public var validBefore: Int64?
        /// The key type name on the line (`ssh-ed25519`, ...).
        public var keyType: String
        /// The key's wire encoding. Lines with keys this module cannot verify (security keys, DSA) are kept: they
        /// never match a signature, as no signature by such a key is accepted.
        public var keyBlob: [UInt8]
        /// The line number, from 1.
        public var line: Int
    }

    /// The file's path (or what ``init(text:source:)`` was told), for messages.
    public let source: String
    /// The lines that name a key, in file order.
    public let entries: [Entry]

    /// Reads and parses the file at `path`.
    ///
    /// - Throws: `SmartSyncError(.invalidArgument)` when the file cannot be read, or naming `path:line` when a line
    ///   is malformed.
    public init(contentsOf path: String) throws {
        let data: Data
        do {
            data = Data(try readWholeFile(path))
        } catch {
            throw SmartSyncError(
                .invalidArgument, "cannot read the allowed-signers file \(path): \(error.reason)",
                hint: "give a readable file in ssh-keygen's allowed-signers format")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SmartSyncError(.invalidArgument, "\(path) is not UTF-8 text", hint: "give an allowed-signers file")
        }
        try self.init(text: text, source: path)
    }

    /// Parses `text`; `source` names it in errors (`source:line`).
    public init(text: String, source: String) throws {
        self.source = source
        var entries: [Entry] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let entry = try Self.parseLine(Substring(line), location: "\(source):\(index + 1)", line: index + 1) {
                entries.append(entry)
            }
        }
        self.entries = entries
    }
}
