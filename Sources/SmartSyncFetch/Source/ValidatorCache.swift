import FoundationEssentials
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Remembers `ETag`s and the bodies they validate, so repeated metadata requests become free `304`s.
///
/// One file per key under a directory (`<store>/http-cache`, named by the SHA-1 of the key), written atomically: a
/// ``JSONRecord`` line (format `smart-sync-validator-cache`: the key, which guards against hash collisions, and the
/// `ETag`), then the body's bytes verbatim (a tree listing can be megabytes: bulk, not escaped into the JSON). An
/// entry in the text of smart-sync 0.1.0 (key line, `ETag` line, body) is read and rewritten. A missing or damaged
/// entry only costs a full request.
public final class ValidatorCache: Sendable {
    /// The directory holding the entries; nil keeps nothing.
    public let directory: String?

    public init(directory: String?) {
        self.directory = directory
        if let directory { try? FileSystem.makeDirectories(directory) }
    }

    /// A cached response.
    public struct Entry: Sendable, Equatable {
        public var etag: String
        public var body: [UInt8]
    }

    /// An entry's file without its body.
    struct Record: JSONRecord, Equatable {
        static let format = "smart-sync-validator-cache"
        static let version = 1
        /// The key as given (method, URL, Accept and credential identity).
        var key: String
        var etag: String
    }

    func file(for key: String) -> String? {
        directory.map { $0 + "/" + ObjectID.hash(.blob, Array(key.utf8)).hex }
    }

    /// The entry for `key` (method, URL, Accept and credential identity), if any.
    /// An entry of smart-sync 0.1.0 is rewritten in the current format.
    public func entry(for key: String) -> Entry? {
        guard let path = file(for: key), let loaded = try? Record.read(at: path, legacy: Self.legacyEntry),
            loaded.record.key == (loaded.isLegacy ? Self.legacyKey(key) : key)
        else { return nil }
        let entry = Entry(etag: loaded.record.etag, body: Array(loaded.payload))
        if loaded.isLegacy { store(entry, for: key) }
        return entry
    }

    /// Stores or replaces the entry for `key`.
    public func store(_ entry: Entry, for key: String) {
        guard let path = file(for: key) else { return }
        try? Record(key: key, etag: entry.etag).write(to: path, payload: entry.body)
    }

    // MARK: - The text of smart-sync 0.1.0

    /// The key as smart-sync 0.1.0 wrote it on its first line (each line feed as a space, also the one of a CRLF,
    /// which is one Character: replaced per Unicode scalar as Foundation's `replacingOccurrences` did).
    static func legacyKey(_ key: String) -> String {
        String(String.UnicodeScalarView(key.unicodeScalars.map { $0 == "\n" ? " " : $0 }))
    }

    /// Parses an entry of smart-sync 0.1.0: the key line, the `ETag` line, then the body.
    static func legacyEntry(_ bytes: [UInt8]) -> (record: Record, payload: ArraySlice<UInt8>)? {
        guard let nl = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let rest = bytes[(nl + 1)...]
        guard let nl2 = rest.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let record = Record(
            key: String(decoding: bytes[..<nl], as: UTF8.self), etag: String(decoding: rest[..<nl2], as: UTF8.self))
        return (record, rest[(nl2 + 1)...])
    }
}
