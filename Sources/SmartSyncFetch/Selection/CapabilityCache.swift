import FoundationEssentials
import Glibc
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncGitProtocol
import SmartSyncObjectStore

/// Remembers a git host's protocol v2 capabilities for a day, so a run goes straight to `ls-refs` (one round trip)
/// instead of asking for `info/refs` first. Any pack-path failure clears it.
///
/// `<cache>/upload-pack-<hash of the URL>.json`, a ``JSONRecord`` (format `smart-sync-capabilities`). smart-sync 0.1.0
/// wrote the same fields as plain JSON without the envelope; such a file is read and rewritten.
///
/// It also remembers, for as long, that the host does not serve protocol v2 at all (``Refusal``, in
/// `upload-pack-<hash>.refused.json`): `--transport auto` then goes straight to per-blob downloads without probing
/// it again or warning again; the run that found out said why.
public struct CapabilityCache: Sendable {
    let path: String?
    /// Seconds an entry is trusted.
    static let lifetime: Double = 24 * 3600

    /// The cache of the git repository at `repositoryURL`, in `directory` (nil: nothing is remembered).
    public init(directory: String?, repositoryURL: String) {
        path = directory.map {
            $0 + "/upload-pack-" + ObjectID.hash(.blob, Array(repositoryURL.utf8)).abbreviated(16) + ".json"
        }
    }

    /// That the host was found not to serve git protocol v2, and why (the error the probe met).
    public struct Refusal: JSONRecord, Equatable {
        public static let format = "smart-sync-protocol-refusal"
        public static let version = 1
        /// When the host refused, seconds since the epoch.
        public var savedAt: Double
        /// What the probe met, for the log.
        public var reason: String
    }

    private var refusalPath: String? { path.map { String($0.dropLast(".json".count)) + ".refused.json" } }

    /// The host's refusal of protocol v2, unless absent, damaged or older than ``lifetime``.
    public func refusal(now: Date = Date()) -> Refusal? {
        guard let refusalPath, let refusal = try? Refusal.read(at: refusalPath)?.record,
            now.timeIntervalSince1970 - refusal.savedAt < Self.lifetime, refusal.savedAt <= now.timeIntervalSince1970
        else { return nil }
        return refusal
    }

    /// Remembers that the host does not serve protocol v2 (best effort).
    func refuse(reason: String, now: Date = Date()) {
        guard let refusalPath else { return }
        try? Refusal(savedAt: now.timeIntervalSince1970, reason: reason).write(to: refusalPath)
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
        if let refusalPath { unlink(refusalPath) }
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
