import Foundation
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

/// A batch's objects appear in `objects/` only once all of them are durable, and vanish if never published.
struct ObjectBatchTests {
    private func write(_ batch: ObjectBatch, _ text: String, kind: ObjectKind = .blob) throws -> ObjectID {
        let bytes = Array(text.utf8)
        let writer = try batch.makeWriter(kind: kind, size: bytes.count)
        try bytes.withUnsafeBytes { try writer.write($0) }
        return try writer.commit()
    }

    private func temporaries(_ store: ObjectStore) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory)
    }

    @Test func objectsAppearTogetherWhenPublished() throws {
        let dir = try TemporaryDirectory(prefix: "batch")
        let store = try ObjectStore(root: dir.appending("store"))
        let batch = ObjectBatch(store: store)
        let a = try write(batch, "alpha\n")
        let tree = try write(batch, "not really a tree", kind: .tree)
        #expect(a == ObjectID.blob(Array("alpha\n".utf8)))
        #expect(tree == ObjectID.hash(.tree, Array("not really a tree".utf8)))
        // Waiting: readable through the batch, not yet in the store.
        #expect(!store.contains(a) && batch.contains(a))
        #expect(try FileSystem.readFile(batch.readablePath(for: a)) == Array("alpha\n".utf8))
        // The same content again is not a second object.
        #expect(try write(batch, "alpha\n") == a)
        #expect(batch.count == 2)

        try batch.publish()
        #expect(store.contains(a) && store.contains(tree))
        #expect(try store.read(a) == Array("alpha\n".utf8))
        #expect(batch.count == 0)
        #expect(try temporaries(store).isEmpty)
        // Read-only, like every store object.
        let mode = try FileManager.default.attributesOfItem(atPath: store.path(for: a))[.posixPermissions] as? Int
        #expect(mode == 0o444)
    }

    @Test func unpublishedObjectsAreRemoved() throws {
        let dir = try TemporaryDirectory(prefix: "batch")
        let store = try ObjectStore(root: dir.appending("store"))
        var id: ObjectID?
        do {
            let batch = ObjectBatch(store: store)
            id = try write(batch, "never published\n")
            #expect(try temporaries(store).count == 1)
        }
        #expect(!store.contains(try #require(id)))
        #expect(try temporaries(store).isEmpty)
    }
}
