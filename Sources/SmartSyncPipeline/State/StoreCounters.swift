import FoundationEssentials
import SmartSyncFileSystem

/// What the metrics file counts for a store, kept across runs in `<state>/aux/store-counters` (Codable JSON with a
/// version, replaced atomically), keyed by the store's path: gc's runs and the bytes they freed.
public struct StoreCounters: Sendable, Hashable, Codable {
    public static let currentVersion = 1

    /// One store's counters.
    public struct Entry: Sendable, Hashable, Codable {
        /// Bytes gc removed (objects and leftovers), over every run that was not a dry run.
        public var gcFreedBytes = 0
        public var gcRuns = 0
        public var lastGC: Date?

        public init() {}
    }

    public var version = Self.currentVersion
    public var stores: [String: Entry] = [:]

    public init() {}
}

extension StateStore {
    /// The store counters; empty when never saved (or damaged, or of a newer version).
    public func loadStoreCounters() -> StoreCounters {
        guard let bytes = try? loadAuxiliary(name: "store-counters"),
            let counters = try? JSONDecoder.records.decode(StoreCounters.self, from: Data(bytes)),
            counters.version <= StoreCounters.currentVersion
        else { return StoreCounters() }
        return counters
    }

    /// Adds a gc run of the store at `store` that freed `freedBytes`, under `aux/store-counters.lock` (gc runs of two
    /// stores that share this state directory hold different store locks, and each reads, adds and writes the file).
    public func recordGC(store: String, freedBytes: Int, at time: Date = Date()) async throws {
        try FileSystem.makeDirectories(root + "/aux")
        let lock = try await FileLock.acquire(
            path: root + "/aux/store-counters.lock", what: "the store counters in \(root)", shared: false,
            waitingUpTo: .seconds(30))
        defer { lock.release() }
        var counters = loadStoreCounters()
        counters.stores[store, default: .init()].gcFreedBytes += freedBytes
        counters.stores[store, default: .init()].gcRuns += 1
        counters.stores[store, default: .init()].lastGC = time
        try saveAuxiliary(name: "store-counters", bytes: Array(try JSONEncoder.records.encode(counters)))
    }
}
