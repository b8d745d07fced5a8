import GitObjects
import ObjectStore
import SmartSyncCore

/// The kinds of objects read back from the store, which keeps content only: a kind is found by hashing the
/// content with each kind's header and matching the id. Remembered per import (for a thin pack's bases; the
/// importer knows the kinds of the pack's own objects).
final class StoredObjectKinds {
    private var known: [ObjectID: ObjectKind] = [:]

    /// The order tried: blobs are by far the most common base, then trees.
    static let probeOrder: [ObjectKind] = [.blob, .tree, .commit, .tag]

    /// The kind of `content` stored as `id`; throws `.integrity` when no kind's header hashes to `id`.
    func kind(of id: ObjectID, content: [UInt8], store: ObjectStore) throws -> ObjectKind {
        if let kind = known[id] { return kind }
        for kind in Self.probeOrder where ObjectID.hash(kind, content) == id {
            known[id] = kind
            return kind
        }
        throw SmartSyncError(
            .integrity,
            "the stored object \(id) at \(store.path(for: id)) does not hash to its name as any object kind; remove it and run again"
        )
    }
}
