import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// The kinds of objects read back from the store, which keeps content only: a kind is found by hashing the
/// content with each kind's header and matching the id. Remembered per import (for a thin pack's bases; the
/// importer knows the kinds of the pack's own objects).
final class StoredObjectKinds {
    private var known: [ObjectID: ObjectKind] = [:]

    /// The order tried: blobs are by far the most common base, then trees.
    static let probeOrder: [ObjectKind] = [.blob, .tree, .commit, .tag]

    /// The kind of the stored object `base`; throws `.integrity` when no kind's header hashes to its id.
    ///
    /// The content is read once in chunks through one hasher per kind, never held whole.
    func kind(of base: StoredDeltaBase, store: ObjectStore) throws -> ObjectKind {
        if let kind = known[base.id] { return kind }
        let hashers = Self.probeOrder.map { BlobHasher(kind: $0, size: base.count) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < base.count {
            let n = min(buffer.count, base.count - offset)
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
            try base.read(into: chunk, at: offset)
            for hasher in hashers { hasher.update(UnsafeRawBufferPointer(chunk)) }
            offset += n
        }
        for (kind, hasher) in zip(Self.probeOrder, hashers) where hasher.finalize() == base.id {
            known[base.id] = kind
            return kind
        }
        throw SmartSyncError(
            .integrity,
            "the stored object \(base.id) at \(base.path) does not hash to its name as any object kind",
            hint: "remove it and run again"
        )
    }
}
