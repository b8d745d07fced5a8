import Foundation
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncGitProtocol

/// Remembers a git host's protocol v2 capabilities for a day, so a run goes straight to `ls-refs` (one round trip)
/// instead of asking for `info/refs` first. Any pack-path failure clears it.
struct CapabilityCache: Sendable {
    let path: String?
    /// Seconds an entry is trusted.
    static let lifetime: Double = 24 * 3600

    init(directory: String?, repositoryURL: String) {
        path = directory.map {
            $0 + "/upload-pack-" + ObjectID.hash(.blob, Array(repositoryURL.utf8)).abbreviated(16) + ".json"
        }
    }

    private struct Entry: Codable {
        var savedAt: Double
        var capabilities: UploadPackCapabilities
    }

    /// The cached capabilities, unless absent, damaged or older than ``lifetime``.
    func load(now: Date = Date()) -> UploadPackCapabilities? {
        guard let path, let bytes = try? FileSystem.readFile(path),
            let entry = try? JSONDecoder().decode(Entry.self, from: Data(bytes)),
            now.timeIntervalSince1970 - entry.savedAt < Self.lifetime, entry.savedAt <= now.timeIntervalSince1970
        else { return nil }
        return entry.capabilities
    }

    func store(_ capabilities: UploadPackCapabilities, now: Date = Date()) {
        guard let path, load(now: now) != capabilities else { return }
        guard
            let data = try? JSONEncoder().encode(Entry(savedAt: now.timeIntervalSince1970, capabilities: capabilities))
        else { return }
        _ = try? FileSystem.writeFileAtomically(path, Array(data))
    }

    func clear() {
        guard let path else { return }
        unlink(path)
    }
}
