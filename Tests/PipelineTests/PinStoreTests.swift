import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
@testable import SmartSyncPipeline
import TestSupport
import Testing

@Suite struct PinStoreTests {
    @Test func aPinKeepsItsListingAndMovesWhenPinnedAgainUnderItsName() async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let pins = PinStore(store: try ObjectStore(root: dir["store"]))
        #expect(try pins.list().isEmpty)
        let file = TreeEntry(path: "modules/a.nix", mode: .regular, id: blob("a\n"), size: 2)
        let tree = TreeEntry(path: "modules", mode: .tree, id: blob("not really a tree"))
        let v1 = TreeListing(commit: blob("commit 1"), rootTree: blob("root 1"), entries: [tree, file])
        try await pins.pin("release/v1", listing: v1, atNs: 42)
        try await pins.pin("main", listing: v1)
        let v2 = TreeListing(commit: blob("commit 2"), rootTree: blob("root 2"), entries: [file])
        try await pins.pin("main", listing: v2)
        let listed = try pins.list()
        #expect(listed.map(\.name) == ["main", "release/v1"])
        #expect(listed.map(\.commit) == [v2.commit, v1.commit])
        #expect(try pins.pin(named: "release/v1")?.listing == v1)
        #expect(try pins.pin(named: "release/v1")?.pinnedAtNs == 42)

        // A damaged pin file keeps nothing and breaks nothing.
        let mainFile = pins.directory + "/" + ObjectID.hash(.blob, Array("main".utf8)).hex
        try FileSystem.writeFileAtomically(mainFile, Array(try FileSystem.readFile(mainFile).dropLast()))
        #expect(try pins.list().map(\.name) == ["release/v1"])
        #expect(try await pins.remove("release/v1"))
        #expect(!(try await pins.remove("release/v1")))
        await #expect(throws: SmartSyncError.self) { try await pins.pin("two\nlines", listing: v1) }
    }

    /// A commit object of `tree` with `parents`, and its id.
    private func commitObject(tree: ObjectID, parents: [ObjectID] = [], message: String = "m") -> (ObjectID, [UInt8]) {
        var text = "tree \(tree.hex)\n"
        for parent in parents { text += "parent \(parent.hex)\n" }
        text += "author A <a@example.invalid> 1704067200 +0000\ncommitter A <a@example.invalid> 1704067200 +0000\n\n"
        let body = Array((text + message + "\n").utf8)
        return (ObjectID.hash(.commit, body), body)
    }

    @Test func theIndexFindsAPinByCommitAndFollowsPinFilesChangedBehindIt() async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let pins = PinStore(store: try ObjectStore(root: dir["store"]))
        #expect(try await pins.index().isEmpty)
        let file = TreeEntry(path: "a.nix", mode: .regular, id: blob("a\n"), size: 2)
        let (c1, body1) = commitObject(tree: blob("root 1"))
        let v1 = TreeListing(commit: c1, rootTree: blob("root 1"), entries: [file])
        let fact = AncestryFact(ancestor: blob("elsewhere"), descendant: c1, holds: true)
        let written = try await pins.pin("v1", listing: v1, commitObject: body1, ancestry: [fact])
        let entry = try #require(written.pinned(c1))
        #expect(entry.names == ["v1"] && entry.rootTree == v1.rootTree && entry.commitObject == body1)
        #expect(entry.ancestry == [fact])
        #expect(pins.listing(of: entry) == v1)
        let read = try await pins.index()
        #expect(read.pinned(c1) == entry)

        // An earlier release pins another commit and replaces nothing else: the index is rebuilt around it, keeping
        // what it knew of v1.
        let v2 = TreeListing(commit: blob("commit 2"), rootTree: blob("root 2"), entries: [file])
        let oldFile = pins.directory + "/" + ObjectID.hash(.blob, Array("old/v2".utf8)).hex
        try FileSystem.writeFileAtomically(oldFile, Pin(name: "old/v2", pinnedAtNs: 1, listing: v2).encoded())
        let rebuilt = try await pins.index()
        #expect(rebuilt.pinned(v2.commit)?.names == ["old/v2"])
        #expect(rebuilt.pinned(c1) == entry)
        #expect(try await PinStore(store: try ObjectStore(root: dir["store"])).index().pinned(v2.commit) != nil)

        // A damaged pin file keeps nothing, and is not read again while it stays as it is.
        let damaged = pins.directory + "/" + String(repeating: "ab", count: 20)
        try FileSystem.writeFileAtomically(damaged, Array("not a pin".utf8))
        #expect(try await pins.index().commits.count == 2)
        let indexFile = pins.directory + "/index"
        let before = try #require(TestFiles.lstat(indexFile))
        #expect(try await pins.index().commits.count == 2)
        #expect(TestFiles.lstat(indexFile)?.st_ino == before.st_ino, "an index that matches the files is not rewritten")

        // The same name pinned elsewhere behind the index's back: v1's commit is no longer pinned.
        let v1File = pins.directory + "/" + ObjectID.hash(.blob, Array("v1".utf8)).hex
        try FileSystem.writeFileAtomically(v1File, Pin(name: "v1", pinnedAtNs: 2, listing: v2).encoded())
        let moved = try await pins.index()
        #expect(moved.pinned(c1) == nil)
        #expect(moved.pinned(v2.commit)?.names == ["old/v2", "v1"])
        #expect(try await pins.remove("old/v2"))
        #expect(try await pins.index().pinned(v2.commit)?.names == ["v1"])

        // An object that is not the commit's, or names another tree, is refused.
        let (_, other) = commitObject(tree: blob("root 1"), message: "other")
        await #expect(throws: SmartSyncError.self) { try await pins.pin("v1", listing: v1, commitObject: other) }
        let (c3, body3) = commitObject(tree: blob("root 3"))
        await #expect(throws: SmartSyncError.self) {
            try await pins.pin(
                "v3", listing: TreeListing(commit: c3, rootTree: blob("root 1"), entries: []), commitObject: body3)
        }
    }

    @Test func theIndexTellsAncestryFromFactsAndParents() async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let pins = PinStore(store: try ObjectStore(root: dir["store"]))
        let root = blob("root")
        let (p0, _) = commitObject(tree: root, message: "p0")
        let (p1, body1) = commitObject(tree: root, parents: [p0], message: "p1")
        let (p2, body2) = commitObject(tree: root, parents: [blob("between")], message: "p2")
        let x = blob("a target's commit")
        let stranger = blob("another branch")
        func listing(_ c: ObjectID) -> TreeListing { TreeListing(commit: c, rootTree: root, entries: []) }
        try await pins.pin("p1", listing: listing(p1), commitObject: body1, ancestry: [
            AncestryFact(ancestor: x, descendant: p1, holds: true)
        ])
        let index = try await pins.pin("p2", listing: listing(p2), commitObject: body2, ancestry: [
            AncestryFact(ancestor: p1, descendant: p2, holds: true),
            AncestryFact(ancestor: stranger, descendant: p2, holds: false),
        ])
        #expect(index.isAncestor(p1, of: p2) == true, "a fact")
        #expect(index.isAncestor(p0, of: p1) == true, "p1's parent, from its object")
        #expect(index.isAncestor(x, of: p2) == true, "x ≤ p1 ≤ p2")
        #expect(index.isAncestor(p2, of: p1) == false, "p1 is below p2, so p2 cannot be below p1")
        #expect(index.isAncestor(p2, of: x) == false)
        #expect(index.isAncestor(stranger, of: p2) == false, "a fact that does not hold")
        #expect(index.isAncestor(stranger, of: p1) == false, "p1 ≤ p2, so not below p1 either")
        #expect(index.isAncestor(p1, of: stranger) == nil)
        #expect(index.isAncestor(x, of: blob("unknown")) == nil)
        #expect(index.commitObject(p2) == body2)
        // Unpinned, p1's facts and object go with it: x is no longer placed against p2.
        #expect(try await pins.remove("p1"))
        let after = try await pins.index()
        #expect(after.isAncestor(p1, of: p2) == true)
        #expect(after.isAncestor(x, of: p2) == nil)
    }

    /// Pin files as the earlier release wrote them (`Tests/Fixtures/Records/pins`) are found by commit: the index is
    /// built from them on first use, they are left as they are, and a pinned commit syncs with no source.
    @Test func anEarlierReleasesPinsAreFoundByCommit() async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        try RecordFixtures.copy("pins", to: dir["store/pins"])
        let v1 = try #require(ObjectID(hex: "897fae4b1f9982361bbc30cfdf9618ecb2dbad23"))
        let main = try #require(ObjectID(hex: "a8279e567be6e5cbcfca1ed69aff82a80d6d9505"))
        let pins = PinStore(store: store)
        #expect(try pins.list().map(\.name) == ["main", "v1"])
        let index = try await pins.index()
        #expect(index.commits.count == 2)
        #expect(index.pinned(v1)?.names == ["v1"])
        #expect(index.pinned(v1)?.rootTree.hex == "2e15b3849bcfcfeb40e276f71c9720b9c778b05f")
        #expect(index.pinned(main)?.names == ["main"])
        #expect(index.pinned(main)?.rootTree.hex == "ea1b116f5193b561f2272a4b630cc821d412a013")
        #expect(index.pinned(v1)?.commitObject == nil && index.pinned(v1)?.ancestry == [])
        #expect(FileSystem.exists(pins.directory + "/index"))
        for name in try FileSystem.names(in: RecordFixtures.directory + "/pins") {
            #expect(try FileSystem.readFile(pins.directory + "/" + name) == RecordFixtures.bytes("pins/" + name))
        }
        let pinnedMain = try #require(index.pinned(main))
        let listing = try #require(pins.listing(of: pinnedMain))
        #expect(listing.files.map(\.path.description).sorted() == ["README.md", "link", "modules/a.nix", "run.sh"])

        // The blobs, as warm left them; the source is a directory that is no repository.
        for content in ["{ a = 1; }\n", "{ a = 2; }\n", "#!/bin/sh\n", "modules/a.nix", "pinned\n"] {
            _ = try store.insert(Array(content.utf8))
        }
        try FileSystem.makeDirectories(dir["nothing"])
        var runner = SyncRunner(
            source: try await LocalGitSource(path: dir["nothing"]), store: store,
            state: try StateStore(root: dir["state"]))
        let target = dir["target"]
        #expect(try await runner.sync(.init(ref: v1.hex, target: target)).switched)
        #expect(TestFiles.read(target + "/modules/a.nix") == "{ a = 1; }\n")
        // The earlier release kept no ancestry: moving on asks the source, which cannot answer here.
        await #expect(throws: SmartSyncError.self) { try await runner.sync(.init(ref: main.hex, target: target)) }
        runner.commitPolicy.allowDowngrade = true
        #expect(try await runner.sync(.init(ref: main.hex, target: target)).switched)
        #expect(TestFiles.read(target + "/modules/a.nix") == "{ a = 2; }\n")
        #expect(TestFiles.lstat(target + "/run.sh").map { $0.st_mode & 0o111 != 0 } == true)
    }
}
