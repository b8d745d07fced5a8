import Foundation
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Remembers `ETag`s and the bodies they validate, so repeated metadata requests become free `304`s.
///
/// One small file per key under a directory (`<store>/http-cache`), written atomically. A missing or
/// damaged entry only costs a full request.
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

    private func file(for key: String) -> String? {
        directory.map { $0 + "/" + ObjectID.hash(.blob, Array(key.utf8)).hex }
    }

    /// The entry for `key` (method, URL, Accept and credential identity), if any.
    public func entry(for key: String) -> Entry? {
        guard let path = file(for: key), let bytes = try? FileSystem.readFile(path),
            let nl = bytes.firstIndex(of: UInt8(ascii: "\n"))
        else { return nil }
        // Line 1: the key (guards against hash collisions and stale formats); line 2: the ETag; then the body.
        let keyLine = String(decoding: bytes[..<nl], as: UTF8.self)
        guard keyLine == key.replacingOccurrences(of: "\n", with: " ") else { return nil }
        let rest = bytes[(nl + 1)...]
        guard let nl2 = rest.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return Entry(etag: String(decoding: rest[..<nl2], as: UTF8.self), body: Array(rest[(nl2 + 1)...]))
    }

    /// Stores or replaces the entry for `key`.
    public func store(_ entry: Entry, for key: String) {
        guard let path = file(for: key) else { return }
        var bytes = Array((key.replacingOccurrences(of: "\n", with: " ") + "\n" + entry.etag + "\n").utf8)
        bytes.append(contentsOf: entry.body)
        try? FileSystem.writeFileAtomically(path, bytes)
    }
}
