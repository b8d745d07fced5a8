import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Executable twins (`objects/ab/cdef….x`, ``ObjectStore/executablePath(for:)``) made together, made durable
/// together.
///
/// A twin made alone costs an `fsync`: a cold sync of a tree with a hundred scripts waited on the disk a hundred
/// times after the last byte had arrived (400-800 ms of a 1,004-file cold sync on a loaded machine, BENCHMARKS). A
/// stage needs no twin under its name before the switch: a batch copies each missing twin into `tmp/` unsynced and
/// hands that copy out to be linked into the stage; ``publish()`` then syncs the store's file system once (after the
/// stage's own sync, it finds little left to write) and renames every copy to its twin's name. The store's promise
/// holds: a twin's name only ever appears over bytes that are on disk. A batch that is never published removes its
/// copies; the stage files linked to them keep their inodes.
///
/// Used from one thread at a time (one stage's placer), as ``ObjectBatch`` is.
public final class TwinBatch: @unchecked Sendable {
    /// The store the twins are made in.
    public let store: ObjectStore
    /// Twin copies waiting in `tmp/`: id → (copy, twin's name).
    private var drafts: [ObjectID: (copy: String, twin: String)] = [:]

    /// An empty batch for `store`.
    public init(store: ObjectStore) {
        self.store = store
    }

    /// Twins waiting to be published.
    public var count: Int { drafts.count }

    /// The file to hard-link for the executable blob `id`: its sealed twin when the store has one, else this
    /// batch's copy (made now, unsynced, the first time it is asked for). The caller has checked the object itself
    /// (``ObjectStore/sealedPath(for:executable:size:)``).
    public func linkablePath(for id: ObjectID) throws -> String {
        var st = stat()
        if let draft = drafts[id] {
            if lstat(draft.copy, &st) == 0 { return draft.copy }
            drafts[id] = nil  // gone from `tmp/` (removed by hand, or by an older release's cleanup): copied again
        }
        let (twin, size) = try store.twinOfPresentObject(id)
        if store.sealedIdentity(of: id, executable: true, size: size) != nil { return twin }
        let copy = try store.draftTwin(of: id, sync: false)
        drafts[id] = (copy, twin)
        return copy
    }

    /// Makes every copy durable (one `syncfs` of the store's file system, left out when `synced`: the caller synced
    /// that file system after every copy was made, as a stage's sync does where the store shares its file system),
    /// then renames each to its twin's name
    /// (over a twin whose seal is broken, which is why it was copied). The renames need no sync of their own: one
    /// lost in a crash only means the twin is made again. A copy that cannot be renamed (gone from `tmp/`, or
    /// refused) is dropped: a twin is only an accelerator, made again on demand, and the stage's link keeps that
    /// inode. Throws only when the sync fails.
    public func publish(synced: Bool = false) throws {
        guard !drafts.isEmpty else { return }
        if !synced { try FileSystem.syncFileSystem(containing: store.root) }
        for (id, draft) in drafts {
            drafts[id] = nil
            try? FileSystem.moveIntoPlace(draft.copy, draft.twin, durable: false)
        }
    }

    deinit {
        for draft in drafts.values { unlink(draft.copy) }
    }
}
