import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncObjectStore
import TestSupport
import Testing

/// ``PackLimits/Contents/reachable(from:history:)`` when the store already holds part of the commit's trees (an
/// update's pack, `have` the commit the target has): the trees the pack brings are walked first, those of the store
/// only while something is still unaccounted for.
extension PackLimitsTests {
    /// Commit 1: `a`, `d/b`. Commit 2 changes `a` and leaves `d` (a tree the store has). The pack of commit 2 also
    /// sends `b` again (a server may send what the client has): it is reached only through the stored tree `d`, so the
    /// walk must go on into the store's trees for it, and still refuse a blob that nothing reaches.
    @Test func anObjectSentAgainBelowAStoredTreeIsKeptAndAStrayIsNot() throws {
        let sub = TreeObject.encode([TreeObject.Child(name: Array("b".utf8), mode: .regular, id: .blob(Self.b))])
        let subID = ObjectID.hash(.tree, sub)
        func root(_ a: [UInt8]) -> [UInt8] {
            TreeObject.encode([
                TreeObject.Child(name: Array("a".utf8), mode: .regular, id: .blob(a)),
                TreeObject.Child(name: Array("d".utf8), mode: .tree, id: subID),
            ])
        }
        func commit(_ tree: [UInt8], _ message: String) -> [UInt8] {
            Array("tree \(ObjectID.hash(.tree, tree).hex)\n\n\(message)\n".utf8)
        }
        let one = commit(root(Self.a), "one")
        let store = try ObjectStore(root: scratch.appending("store-stored"))
        let first = scratch.appending("first.pack")
        try TestFiles.write(
            first,
            bytes: PackBuilder.pack([
                PackBuilder.entry(type: 1, one), PackBuilder.entry(type: 2, root(Self.a)),
                PackBuilder.entry(type: 2, sub), Self.blob(Self.a), Self.blob(Self.b),
            ]))
        let oneOnly = PackLimits(contents: .reachable(from: [ObjectID.hash(.commit, one)], history: false))
        try PackImporter(store: store).importPack(atPath: first, limits: oneOnly)
        #expect(store.contains(subID))

        let a2 = Array("alpha 2\n".utf8)
        let two = commit(root(a2), "two")
        let twoID = ObjectID.hash(.commit, two)
        let depthOne = PackLimits(contents: .reachable(from: [twoID], history: false))
        func importTwo(_ extra: [[UInt8]], _ name: String) throws -> SmartSyncError? {
            let path = scratch.appending(name + ".pack")
            try TestFiles.write(
                path,
                bytes: PackBuilder.pack(
                    [PackBuilder.entry(type: 1, two), PackBuilder.entry(type: 2, root(a2)), Self.blob(a2)] + extra))
            do {
                try PackImporter(store: store).importPack(atPath: path, limits: depthOne)
                return nil
            } catch let error as SmartSyncError {
                return error
            }
        }
        // `b` again: reached through the stored `d`, kept.
        #expect(try importTwo([Self.blob(Self.b)], "again") == nil)
        #expect(store.contains(twoID) && store.contains(.blob(a2)))
        // `c`: reached by nothing, the store's trees walked through to tell, refused.
        let error = try importTwo([Self.blob(Self.c)], "stray")
        let message = error?.message ?? ""
        #expect(message.contains("1 object that commit \(twoID) does not reach"), "\(message)")
        #expect(!store.contains(.blob(Self.c)))
    }
}
