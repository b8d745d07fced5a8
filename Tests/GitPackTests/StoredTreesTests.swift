import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncObjectStore
import TestSupport
import Testing

@Suite struct StoredTreesTests {
    /// The listing read from the store equals `git ls-tree -r -t` (paths, modes, ids; no sizes: reading them from the
    /// store would cost an `lstat` per file and check nothing) and verifies up to the root tree.
    @Test func listingMatchesGit() throws {
        let fixture = try PackFixture(commits: 3)
        let head = try fixture.addGitlink()
        let store = try fixture.makeStore("trees")
        try PackImporter(store: store).importPack(atPath: try fixture.pack(["--all"], name: "all"))

        let commit = try #require(ObjectID(hex: head))
        let listing = try StoredTrees.listing(commit: commit, in: store)
        #expect(listing.rootTree == ObjectID(hex: try fixture.repo.revParse(head + "^{tree}")))
        #expect(try StoredTrees.rootTree(ofCommit: commit, in: store) == listing.rootTree)
        #expect(
            listing.entries
                == (try gitListing(fixture, head)).map { TreeEntry(path: $0.path, mode: $0.mode, id: $0.id) })
        #expect(listing.entries.allSatisfy { $0.size == nil })
        #expect(listing.submodules.map(\.path) == ["sub"])
        try listing.verify()
        try listing.validate()
        #expect(StoredTrees.missingObjects(commit: commit, in: store) == [])
    }

    /// A removed blob shows up in missingObjects; a removed tree makes listing throw `.notFound` naming it.
    @Test func missingObjectsAndTrees() throws {
        let (fixture, store, head, commit) = try imported(commits: 2, "missing")

        let blob = try #require(ObjectID(hex: try fixture.repo.revParse(head + ":src/f0.txt")))
        #expect(unlink(store.path(for: blob)) == 0)
        #expect(StoredTrees.missingObjects(commit: commit, in: store) == [blob])

        let tree = try #require(ObjectID(hex: try fixture.repo.revParse(head + ":docs/deep")))
        #expect(unlink(store.path(for: tree)) == 0)
        let error = try #require(throws: SmartSyncError.self) { try StoredTrees.listing(commit: commit, in: store) }
        #expect(error.code == .notFound)
        #expect(error.message.contains("'docs/deep'"))
        #expect(error.message.contains(tree.hex))
        #expect(Set(StoredTrees.missingObjects(commit: commit, in: store)) == [blob, tree])

        let absent = ObjectID.blob(Array("no such commit".utf8))
        #expect(try StoredTrees.rootTree(ofCommit: absent, in: store) == nil)
        #expect(StoredTrees.missingObjects(commit: absent, in: store) == [absent])
    }

    /// A symlink at a tree's object path (to a copy of that very tree) is not followed, and a directory there is not
    /// read: both are "not in the store", as ``ObjectStore/contains(_:)`` tells, never an I/O error or a tree read
    /// through a link.
    @Test func aSymlinkOrDirectoryAtATreesPathIsNotInTheStore() throws {
        let (fixture, store, head, commit) = try imported(commits: 1, "planted")
        let tree = try #require(ObjectID(hex: try fixture.repo.revParse(head + ":docs/deep")))
        let path = store.path(for: tree)
        let copy = store.root + "/copy-of-tree"
        #expect(rename(path, copy) == 0)
        for plant in ["symlink", "directory"] {
            if plant == "symlink" { #expect(symlink(copy, path) == 0) } else { #expect(mkdir(path, 0o755) == 0) }
            #expect(!store.contains(tree))
            let error = try #require(throws: SmartSyncError.self) { try StoredTrees.listing(commit: commit, in: store) }
            #expect(error.code == .notFound, "\(plant): \(error.message)")
            #expect(error.message.contains("'docs/deep'"), "\(plant): \(error.message)")
            #expect(remove(path) == 0)
        }
        #expect(rename(copy, path) == 0)
        try StoredTrees.listing(commit: commit, in: store).verify()
    }

    /// Tree entry names are bytes: one that is not UTF-8 is listed as it is; one holding a slash or NUL is refused.
    @Test func namesAreBytesAndOnlyNonComponentsAreRefused() throws {
        let scratch = try TemporaryDirectory(prefix: "gitpack-names")
        let store = try ObjectStore(root: scratch.appending("store"))
        let blob = try store.insert(Array("x".utf8))
        func commit(named name: [UInt8]) throws -> ObjectID {
            let tree = try store.insert(
                TreeObject.encode([TreeObject.Child(name: name, mode: .regular, id: blob)]), kind: .tree)
            let body = Array("tree \(tree.hex)\nauthor A <a@b> 0 +0000\ncommitter A <a@b> 0 +0000\n\nm\n".utf8)
            return try store.insert(body, kind: .commit)
        }
        let latin1 = try StoredTrees.listing(commit: commit(named: [0x63, 0x61, 0x66, 0xE9]), in: store)
        #expect(latin1.entries.map(\.path) == [TreePath(bytes: [0x63, 0x61, 0x66, 0xE9])])
        #expect(latin1.entries.first?.path.description == "caf\\xe9")
        try latin1.verify()
        let slash = try #require(throws: SmartSyncError.self) {
            try StoredTrees.listing(commit: commit(named: Array("a/b".utf8)), in: store)
        }
        #expect(slash.code == .unsafePath)
    }

    /// What `LocalGitSource` builds from `git ls-tree -r -t -l -z`.
    /// A fixture of `commits` commits, all imported into a fresh store named `name`; its last commit.
    private func imported(
        commits: Int, _ name: String
    ) throws -> (fixture: PackFixture, store: ObjectStore, head: String, commit: ObjectID) {
        let fixture = try PackFixture(commits: commits)
        let head = try #require(fixture.commits.last)
        let store = try fixture.makeStore(name)
        try PackImporter(store: store).importPack(atPath: try fixture.pack(["--all"], name: "all"))
        return (fixture, store, head, try #require(ObjectID(hex: head)))
    }

    private func gitListing(_ fixture: PackFixture, _ commit: String) throws -> [TreeEntry] {
        let out = try fixture.repo.gitResult(["ls-tree", "-r", "-t", "-l", "-z", "--full-tree", commit]).stdout
        return out.split(separator: 0).map { record in
            let tab = record.firstIndex(of: UInt8(ascii: "\t"))!
            let fields = record[record.startIndex..<tab].split(separator: UInt8(ascii: " "))
            return TreeEntry(
                path: TreePath(bytes: record[(tab + 1)...]),
                mode: FileMode(octal: String(decoding: fields[0], as: UTF8.self))!,
                id: ObjectID(hex: String(decoding: fields[2], as: UTF8.self))!,
                size: Int(String(decoding: fields[3], as: UTF8.self)))
        }
    }
}
