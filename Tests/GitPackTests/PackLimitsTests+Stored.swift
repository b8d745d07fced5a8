import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncObjectStore
import TestSupport
import Testing

/// ``PackLimits/Contents/reachable(from:history:)`` when the store already holds part of the commit's trees (an
/// update's pack, or a commit's pack after `plan` put its trees in the store): the trees the pack brings are walked
/// first, those of the store only while something is still unaccounted for.
extension PackLimitsTests {
    /// Commit 1: `a`, `d/b`; its trees are in the store, the blob `b` is not (a trees-only fetch). Commit 2 changes
    /// `a` and leaves `d`; its pack brings `b`, which only the stored tree `d` reaches: the walk must go on into the
    /// store's trees to keep it, and still refuse a blob `c` that nothing reaches. (A blob the store already has is
    /// never pending, so resending one would not tell.)
    @Test func aBlobBelowAStoredTreeIsKeptAndAStrayIsNot() throws {
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
        let a2 = Array("alpha 2\n".utf8)
        let two = commit(root(a2), "two")
        let twoID = ObjectID.hash(.commit, two)
        // A store holding commit 1 and its trees but no blob, then commit 2's pack with `b` and `extra`.
        func importTwo(_ extra: [[UInt8]], _ name: String) throws -> (ObjectStore, SmartSyncError?) {
            let store = try ObjectStore(root: scratch.appending("store-" + name))
            let first = scratch.appending(name + "-one.pack")
            try TestFiles.write(
                first,
                bytes: PackBuilder.pack([
                    PackBuilder.entry(type: 1, one), PackBuilder.entry(type: 2, root(Self.a)),
                    PackBuilder.entry(type: 2, sub),
                ]))
            let oneOnly = PackLimits(contents: .reachable(from: [ObjectID.hash(.commit, one)], history: false))
            try PackImporter(store: store).importPack(atPath: first, limits: oneOnly)
            #expect(store.contains(subID) && !store.contains(.blob(Self.b)))
            let path = scratch.appending(name + "-two.pack")
            try TestFiles.write(
                path,
                bytes: PackBuilder.pack(
                    [PackBuilder.entry(type: 1, two), PackBuilder.entry(type: 2, root(a2)), Self.blob(a2)]
                        + [Self.blob(Self.b)] + extra))
            do {
                try PackImporter(store: store).importPack(
                    atPath: path, limits: PackLimits(contents: .reachable(from: [twoID], history: false)))
                return (store, nil)
            } catch let error as SmartSyncError {
                return (store, error)
            }
        }
        // `b`: reached only through the stored `d`, kept.
        let (kept, error) = try importTwo([], "kept")
        #expect(error == nil, "\(error?.message ?? "")")
        #expect(kept.contains(twoID) && kept.contains(.blob(a2)) && kept.contains(.blob(Self.b)))
        // `c`: reached by nothing, refused; `b` still kept.
        let (stray, refusal) = try importTwo([Self.blob(Self.c)], "stray")
        let message = refusal?.message ?? ""
        #expect(message.contains("1 object that commit \(twoID) does not reach"), "\(message)")
        #expect(message.contains("blob \(ObjectID.blob(Self.c))"), "\(message)")
        #expect(stray.contains(.blob(Self.b)) && !stray.contains(.blob(Self.c)))
    }
}
