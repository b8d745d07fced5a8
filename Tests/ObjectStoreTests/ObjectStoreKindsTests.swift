import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import Testing

@Suite("ObjectStore object kinds")
struct ObjectStoreKindsTests {
    let root = NSTemporaryDirectory() + "store-kinds-" + UUID().uuidString

    @Test func treeIsStoredRawUnderItsTreeID() throws {
        let store = try ObjectStore(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let body = TreeObject.encode([TreeObject.Child(name: Array("a".utf8), mode: .regular, id: .emptyBlob)])
        let id = try store.insert(body, kind: .tree)
        #expect(id == ObjectID.hash(.tree, body))
        #expect(try store.read(id) == body)
        #expect(try store.insert([], kind: .tree) == .emptyTree)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
    }

    @Test func writerWithoutExpectedIDPublishesUnderTheComputedID() throws {
        let store = try ObjectStore(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let content = Array("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nm\n".utf8)
        for _ in 0..<2 {  // the second time the object is already present: the temp file is dropped
            let writer = try store.makeWriter(kind: .commit, size: content.count, expecting: nil)
            try content.withUnsafeBytes { try writer.write($0) }
            #expect(try writer.commit() == ObjectID.hash(.commit, content))
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
        }
        #expect(try store.read(ObjectID.hash(.commit, content)) == content)
    }

    @Test func writerWithoutExpectedIDStillChecksTheSize() throws {
        let store = try ObjectStore(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let writer = try store.makeWriter(kind: .blob, size: 4, expecting: nil)
        try Array("abc".utf8).withUnsafeBytes { try writer.write($0) }
        #expect(throws: SmartSyncError.self) { try writer.commit() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.objectsDirectory).isEmpty)
    }

    @Test func expectedIDIsCheckedWithTheKind() throws {
        let store = try ObjectStore(root: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let content = Array("x".utf8)
        let writer = try store.makeWriter(kind: .tree, size: 1, expecting: ObjectID.blob(content))
        try content.withUnsafeBytes { try writer.write($0) }
        #expect(throws: SmartSyncError.self) { try writer.commit() }
        #expect(!store.contains(ObjectID.blob(content)))
    }
}
