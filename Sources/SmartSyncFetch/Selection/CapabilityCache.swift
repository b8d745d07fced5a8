import Foundation
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncGitProtocol
import SmartSyncObjectStore

/// Remembers a git host's protocol v2 capabilities for a day, so a run goes straight to `ls-refs` (one round trip)
/// instead of asking for `info/refs` first. Any pack-path failure clears it.
///
/// `<cache>/upload-pack-<hash of the URL>.json`, a ``JSONRecord`` (format `smart-sync-capabilities`). smart-sync 0.1.0
/// wrote the same fields as plain JSON without the envelope; such a file is read and rewritten.
struct CapabilityCache: Sendable {
    let path: String?
    /// Seconds an entry is trusted.
    static let lifetime: Double = 24 * 3600

    init(directory: String?, repositoryURL: String) {
        path = directory.map {
            $0 + "/upload-pack-" + ObjectID.hash(.blob, Array(repositoryURL.utf8)).abbreviated(16) + ".json"
        }
    }

    /// The file's record.
    struct Entry: JSONRecord, Equatable {
        static let format = "smart-sync-capabilities"
        static let version = 1
        /// When the capabilities were asked, seconds since the epoch.
        var savedAt: Double
        var capabilities: UploadPackCapabilities
    }

    /// The cached capabilities, unless absent, damaged or older than ``lifetime``.
    func load(now: Date = Date()) -> UploadPackCapabilities? {
        guard let path, let entry = try? Entry.readMigrating(at: path, legacy: Self.legacyEntry)?.record,
            now.timeIntervalSince1970 - entry.savedAt < Self.lifetime, entry.savedAt <= now.timeIntervalSince1970
        else { return nil }
        return entry.capabilities
    }

    func store(_ capabilities: UploadPackCapabilities, now: Date = Date()) {
        guard let path, load(now: now) != capabilities else { return }
        try? Entry(savedAt: now.timeIntervalSince1970, capabilities: capabilities).write(to: path)
    }

    func clear() {
        guard let path else { return }
        unlink(path)
    }

    /// Parses the plain JSON of smart-sync 0.1.0 (`savedAt`, `capabilities`: the same fields, no envelope).
    static func legacyEntry(_ bytes: [UInt8]) -> (record: Entry, payload: ArraySlice<UInt8>)? {
        (try? JSONDecoder().decode(Entry.self, from: Data(bytes))).map { ($0, []) }
    }
}
