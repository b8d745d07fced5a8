import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Objects written together (a pack's), made durable together.
///
/// One object at a time costs two `fsync`s (the file, then its directory): for a pack of a thousand objects that is
/// seconds of waiting on the disk, most of a cold sync on a fast link. A batch keeps the store's promise — a path
/// under `objects/` only ever names bytes that are on disk — with one file-system sync for the whole lot: each
/// verified object waits in `tmp/` (its writeback started at commit), ``publish()`` syncs the file system once, then
/// links every object into place.
///
/// The links get no sync of their own: a name a crash loses only means the object is absent, fetched again by the
/// next run that needs it. Most readers ask the store and trust no record that an object is there (the pack-commits
/// log uses a commit once its closure is found in the store, a stage places from the store or takes the target's file
/// verified by its id). Two records do trust a name, and each syncs the store's file system before it is written:
/// a pin (`warm --pin`: warm syncs before it reports or pins a ref, whatever it fetched) and a kept local version
/// (`KeptVersionLog`, whose version may be an object the store already held: the runner syncs before the record).
/// Otherwise the next sync of the file system makes the names durable: the next batch's, or the stage's before the
/// switch's journal when the store shares the target's file system (as hard links need). A second `syncfs` here cost
/// 1-130 ms an update (BENCHMARKS, "The 1 GiB update: one sync a batch").
///
/// Until published, objects are readable through ``readablePath(for:)`` (a pack's deltas need their bases).
/// Objects not published are removed when the batch goes away. Used from one thread at a time.
public final class ObjectBatch: @unchecked Sendable {
    public let store: ObjectStore
    /// Verified objects waiting in `tmp/`, by id.
    private var pending: [ObjectID: String] = [:]
    private var order: [ObjectID] = []

    public init(store: ObjectStore) {
        self.store = store
    }

    /// A writer whose commit verifies the object and adds it to this batch instead of publishing it.
    public func makeWriter(kind: ObjectKind, size: Int) throws -> ObjectWriter {
        let writer = try ObjectWriter(store: store, kind: kind, expected: nil, size: size)
        writer.batch = self
        return writer
    }

    /// True when the object is in the store or waiting in this batch.
    public func contains(_ id: ObjectID) -> Bool { pending[id] != nil || store.contains(id) }

    /// Where the object's bytes can be read now: its file in `tmp/` while it waits, else its store path.
    public func readablePath(for id: ObjectID) -> String { pending[id] ?? store.path(for: id) }

    /// Objects waiting to be published.
    public var count: Int { pending.count }

    /// The ids of the objects waiting to be published.
    public var pendingIDs: [ObjectID] { Array(pending.keys) }

    /// True when the object waits in this batch (written by it, not yet published).
    public func isPending(_ id: ObjectID) -> Bool { pending[id] != nil }

    /// Removes a waiting object (one its importer refused): it is never published.
    public func drop(_ id: ObjectID) {
        guard let temp = pending.removeValue(forKey: id) else { return }
        unlink(temp)
    }

    /// Called by a batch writer's commit: takes over its verified temp file (or drops it when the object is known).
    func add(_ id: ObjectID, tempPath: String) {
        if contains(id) {
            unlink(tempPath)
            return
        }
        pending[id] = tempPath
        order.append(id)
    }

    /// Makes every waiting object durable, then links it into `objects/` (the links are not synced: see above).
    public func publish() throws {
        guard !pending.isEmpty else { return }
        try FileSystem.syncFileSystem(containing: store.root)
        for id in order {
            guard let temp = pending[id] else { continue }
            let final = store.path(for: id)
            let dir = String(final[..<final.lastIndex(of: "/")!])
            if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw SmartSyncError.io("mkdir", path: dir) }
            if link(temp, final) != 0 && errno != EEXIST { throw SmartSyncError.io("link", path: final) }
            unlink(temp)
            pending[id] = nil
        }
        order.removeAll()
    }

    deinit {
        for temp in pending.values { unlink(temp) }
    }
}
