import Glibc
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The scan, the stat cache, the manifest and the planner hold paths sorted by bytes, as git does, and join them in
/// one pass: the cases a `String` sort or a per-directory walk order gets wrong must come out right.
@Suite struct SortedTablesTests {
    /// Names where byte order is not walk order: `a-b` and `a.b` sort between the directory `a` and its files, a
    /// Latin-1 name is not UTF-8, and `é` as one code point and as `e` + accent are two names.
    static let latin1 = TreePath(bytes: Array("caf".utf8) + [0xE9])
    static let names: [TreePath] = [
        "a/b", "a-b", "a.b", "a0", "a/b.c/d", latin1, TreePath("\u{E9}"), TreePath("e\u{301}"), "z/\u{2603}",
    ]

    /// Writes `content` at `path` under `root`, opening the path by its bytes (a Latin-1 name stays one). Parent
    /// directories here are UTF-8.
    private func write(_ root: String, _ path: TreePath, _ content: String, mode: mode_t = 0o444) throws {
        let parent = path.parent
        try TestFiles.makeDirectories(parent.isEmpty ? root : root + "/" + (parent.string ?? "?"))
        let full = Array(root.utf8) + [0x2F] + path.bytes + [0]
        unlink(full.map { CChar(bitPattern: $0) })
        let fd = open(full.map { CChar(bitPattern: $0) }, O_WRONLY | O_CREAT | O_EXCL, mode)
        #expect(fd >= 0)
        _ = Array(content.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    @Test func theScanIsInByteOrderAndItsCacheJoinsIt() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let target = dir["t"]
        for (i, name) in Self.names.enumerated() { try write(target, name, "file \(i)") }
        usleep(20_000)  // past the racy tick: files stamped before the scan starts are cached
        let first = try TargetScanner().scan(target: target)
        #expect(PathTable<LocalEntry>.isStrictlyIncreasing(first.tree.entries.keys))
        #expect(first.tree.entries.keys == first.tree.entries.keys.sorted())
        let files = first.tree.entries.filter { $0.value.kind == .regular }.map(\.key)
        #expect(files == Self.names.sorted())
        #expect(first.statistics.filesHashed == Self.names.count)
        for (i, name) in Self.names.enumerated() {
            #expect(first.tree[name]?.id == ObjectID.blob(Array("file \(i)".utf8)), "\(name)")
        }

        // Saved and loaded: sorted on disk, every file vouched for by the cache (racy entries aside: wait a tick).
        var cache = first.cache
        usleep(20_000)
        try cache.save(to: dir["cache"])
        let loaded = try StatCache.load(from: dir["cache"])
        #expect(loaded.entries.keys == Self.names.sorted())
        let again = try TargetScanner().scan(target: target, cache: loaded)
        #expect(again.statistics.filesHashed == 0)
        #expect(again.statistics.cacheHits == Self.names.count)
        #expect(again.tree.entries == first.tree.entries)

        // One file changed (same size, new content): only it is hashed, and the new cache holds its new id.
        try write(target, Self.latin1, "FILE 5")
        usleep(20_000)
        let third = try TargetScanner().scan(target: target, cache: loaded)
        #expect(third.statistics.filesHashed == 1)
        #expect(third.tree[Self.latin1]?.id == ObjectID.blob(Array("FILE 5".utf8)))
        #expect(third.cache.entries[Self.latin1]?.id == ObjectID.blob(Array("FILE 5".utf8)))
        #expect(third.cache.entries.keys == Self.names.sorted())
    }

    @Test func thePlanIsOneMergeInByteOrder() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let target = dir["t"]
        // On disk: what the last sync put there (read-only), one file of the operator's, and "a-b" edited.
        try write(target, "a/b", "same")
        try write(target, "a-b", "edited", mode: 0o644)
        try write(target, "a.b", "gone")
        try write(target, Self.latin1, "old")
        try write(target, "e\u{301}", "mine", mode: 0o644)
        let local = try TargetScanner().scan(target: target).tree
        var previous = Manifest()
        for (path, content) in [("a/b", "same"), ("a-b", "before"), ("a.b", "gone"), (Self.latin1, "old")]
            as [(TreePath, String)]
        {
            previous[path] = Manifest.Entry(mode: .regular, id: ObjectID.blob(Array(content.utf8)))
        }
        // The tree: "a/b" unchanged, "a-b" back to "before" (an edit of ours), "a.b" deleted, Latin-1 modified, two new
        // names that sort on either side of "a/b".
        let entries: [TreeEntry] = [
            ("a0", "new"), ("a/b", "same"), (Self.latin1, "new"), ("a-b", "before"), ("\u{E9}", "new"),
            ("a/b.c/d", "deep"),
        ].map { (path: TreePath, content: String) in
            TreeEntry(path: path, mode: .regular, id: ObjectID.blob(Array(content.utf8)), size: content.utf8.count)
        }
        let listing = TreeListing(commit: ObjectID.blob([1]), rootTree: .emptyTree, entries: entries)
        let plan = Planner().plan(listing: listing, previous: previous, local: local)

        let paths = plan.changes.map(\.path)
        #expect(paths == paths.sorted())
        #expect(Set(paths).count == paths.count)
        #expect(plan.kind("a/b") == .unchanged)
        #expect(plan.kind("a-b") == .modify)
        #expect(plan.change("a-b")?.note?.contains("changed locally") == true)
        #expect(plan.kind("a.b") == .delete)
        #expect(plan.kind(Self.latin1) == .modify)
        #expect(plan.kind("e\u{301}") == .untracked)
        #expect(plan.kind("\u{E9}") == .add)
        #expect(plan.kind("a0") == .add)
        #expect(plan.kind("a/b.c/d") == .add)

        // The manifest to record is the tree's files, in order, built by appending.
        let manifest = try Planner().manifest(after: plan, previous: previous)
        #expect(manifest.entries.keys == entries.map(\.path).sorted())
        #expect(manifest[Self.latin1]?.id == ObjectID.blob(Array("new".utf8)))
    }

    /// Whether two paths are one storage (paths over 15 bytes live in a buffer of their own; shorter ones inline).
    private func sameStorage(_ a: TreePath, _ b: TreePath) -> Bool {
        a.withBytes { x in b.withBytes { y in x.baseAddress == y.baseAddress } }
    }

    @Test func aCacheLoadedAgainstAManifestSharesItsPaths() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let st = StatData(device: 1, inode: 2, size: 3, mtimeNs: 4, ctimeNs: 5, mode: 0o100444)
        let long: [TreePath] = [
            "modules/networking/a-b.nix", "modules/networking/a.b.nix", "modules/networking/a/b.nix",
            TreePath(bytes: Array("modules/networking/caf".utf8) + [0xE9]),
        ]
        var cache = StatCache()
        for (i, path) in long.enumerated() where i != 1 {
            cache.entries[path] = .init(stat: st, id: ObjectID.blob([UInt8(i)]))
        }
        try cache.save(to: dir["cache"])
        // The manifest lacks one cached path and has one the cache lacks.
        let manifest = [long[0], long[1], long[3]].map { TreePath(bytes: $0.bytes) }
        let shared = try StatCache.load(from: dir["cache"], sharing: manifest)
        let alone = try StatCache.load(from: dir["cache"])
        #expect(shared.entries == alone.entries)
        #expect(shared.entries.keys == [long[0], long[2], long[3]])
        #expect(sameStorage(shared.entries.keys[0], manifest[0]))
        #expect(sameStorage(shared.entries.keys[2], manifest[2]))
        #expect(!sameStorage(shared.entries.keys[1], manifest[1]))
        #expect(!sameStorage(alone.entries.keys[0], manifest[0]))

        // The scan takes the cache's own paths for what it finds.
        let target = dir["t"]
        for path in long { try write(target, path, "x") }
        let scan = try TargetScanner().scan(target: target, cache: shared)
        #expect(scan.tree.entries.keys.filter { scan.tree[$0]?.kind == .regular } == long)
        #expect(sameStorage(try #require(scan.tree.entries.keys.first { $0 == long[0] }), manifest[0]))
    }

    @Test func recordingAnApplyMergesTheCacheWithThePlan() throws {
        let st = StatData(device: 1, inode: 2, size: 3, mtimeNs: 4, ctimeNs: 5, mode: 0o100444)
        var cache = StatCache(entries: [
            "a-b": .init(stat: st, id: ObjectID.blob([1])), "a.b": .init(stat: st, id: ObjectID.blob([2])),
            Self.latin1: .init(stat: st, id: ObjectID.blob([3])),
        ])
        let plan = Plan(
            commit: ObjectID.blob([0]),
            changes: [
                Change(kind: .delete, path: "a-b"),
                Change(kind: .untracked, path: "a.b"),
                Change(kind: .add, path: "a/b", mode: .regular, id: ObjectID.blob([4])),
                Change(kind: .symlink, path: Self.latin1, mode: .symlink, id: ObjectID.blob([5])),
            ], blobsNeeded: [])
        var seen = StatData(device: 1, inode: 9, size: 1, mtimeNs: 1, ctimeNs: 1, mode: 0o100444)
        seen.size = 1
        cache.record(plan, target: "/nonexistent", known: ["a/b": seen])
        #expect(cache.entries.keys == ["a.b", "a/b"])
        #expect(cache.entries["a.b"]?.id == ObjectID.blob([2]))  // untracked: left as it was
        #expect(cache.entries["a/b"] == StatCache.Entry(stat: seen, id: ObjectID.blob([4])))
    }
}

/// A state and a stat cache as the release before the sorted tables wrote them (entries in hash order) read as the
/// same manifest and cache, sorted, and are written back sorted in the same format.
@Suite struct SortedTablesMigrationTests {
    static let latin1 = TreePath(bytes: Array("caf".utf8) + [0xE9])

    private func blob(_ text: String) -> ObjectID { ObjectID.blob(Array(text.utf8)) }

    @Test func aStateOfTheLastReleaseReadsSortedAndRoundTrips() throws {
        let bytes = try RecordFixtures.bytes("state-hash-order")
        let state = try #require(TargetState(encoded: bytes))
        let expected: [(TreePath, FileMode, ObjectID)] = [
            ("a-b", .regular, blob("a-b\n")), ("a.b", .regular, blob("a.b\n")), ("a/b", .regular, blob("a/b\n")),
            ("a0", .regular, blob("a0\n")), (Self.latin1, .regular, blob("latin1\n")),
            ("link", .symlink, blob("a/b")), ("run.sh", .executable, blob("#!/bin/sh\n")),
            ("z/\u{2603}", .regular, blob("snow\n")),
        ]
        #expect(state.manifest.entries.keys == expected.map(\.0))
        for (path, mode, id) in expected {
            #expect(state.manifest[path] == Manifest.Entry(mode: mode, id: id), "\(path)")
        }
        // The fixture really is in another order: the sort on reading is what put it right.
        let written = state.encoded()
        #expect(written != bytes)
        #expect(written.count == bytes.count)
        #expect(TargetState(encoded: written) == state)
    }

    /// Sorted as it is read; a version 1 file vouches for nothing (see `StatCacheRacyTests`), what it is written as
    /// does.
    @Test func aStatCacheOfTheLastReleaseReadsSortedAndVouchesOnceRewritten() throws {
        let bytes = try RecordFixtures.bytes("stat-cache-hash-order")
        let cache = try #require(StatCache(encoded: bytes, timestampNs: .max))
        // Regular files only (the symlink has no entry), sorted by bytes.
        #expect(cache.entries.keys == ["a-b", "a.b", "a/b", "a0", Self.latin1, "run.sh", "z/\u{2603}"])
        #expect(cache.entries[Self.latin1]?.id == blob("latin1\n"))
        #expect(cache.entries["run.sh"]?.stat.mode == 0o100555)
        let entry = try #require(cache.entries["a/b"])
        #expect(cache.trustedID(for: "a/b", stat: entry.stat) == nil)
        let again = try #require(StatCache(encoded: cache.encoded(), timestampNs: .max))
        #expect(again.entries == cache.entries)
        #expect(again.trustedID(for: "a/b", stat: entry.stat) == blob("a/b\n"))
        #expect(cache.encoded() != bytes)
    }
}

/// The reader finds a file's order where the bytes lie (``BinaryReader/pathsIncreasing``); a table it finds in order
/// is taken as it is, any other is sorted: each case where a shortcut in that comparison would take a wrong order
/// for a right one.
@Suite struct ReadOrderTests {
    /// A manifest's table of `paths` in a file of magic `TEST`, version 1, in the order given.
    static func manifestBytes(_ paths: [TreePath]) -> [UInt8] {
        var w = BinaryWriter(magic: "TEST", version: 1)
        w.append(UInt32(paths.count))
        for (k, path) in paths.enumerated() {
            w.append(path)
            w.append(FileMode.regular.rawValue)
            w.append(ObjectID.blob([UInt8(k)]))
        }
        return w.finish()
    }

    /// The manifest read from `paths`, and whether the reader found them in order as it read them.
    private func read(_ paths: [TreePath]) throws -> (manifest: Manifest, inOrder: Bool) {
        try Self.manifestBytes(paths).withUnsafeBufferPointer { bytes in
            var r = try #require(BinaryReader(bytes, magic: "TEST", version: 1))
            let manifest = try #require(Manifest(reading: &r))
            return (manifest, r.pathsIncreasing)
        }
    }

    @Test(arguments: [
        // A prefix after the longer path, the last two swapped, a repeated path (the last wins), a Latin-1 byte
        // (0xE9, above every ASCII byte) before an ASCII name.
        [TreePath("ab"), "a"], ["a", "b", "d", "c"], ["a", "b", "b"],
        [TreePath(bytes: [0x61, 0xE9]), "ab"],
    ])
    func aFileOutOfOrderIsSorted(_ paths: [TreePath]) throws {
        let (manifest, inOrder) = try read(paths)
        #expect(!inOrder, "the reader's check missed the disorder")
        let expected = Set(paths).sorted()
        #expect(manifest.entries.keys == expected)
        #expect(PathTable<Int>.isStrictlyIncreasing(manifest.entries.keys))
        // The last of a repeated path wins.
        if let last = paths.lastIndex(of: "b"), paths.filter({ $0 == "b" }).count > 1 {
            #expect(manifest["b"]?.id == ObjectID.blob([UInt8(last)]))
        }
    }

    @Test func aFileInOrderIsTakenAsItIs() throws {
        let paths: [TreePath] = ["a", "a-b", "a.b", "a/b", "a0", TreePath(bytes: [0x61, 0xE9])]
        let (manifest, inOrder) = try read(paths)
        #expect(inOrder, "paths in git's order were taken for out of order (sorted again for nothing)")
        #expect(manifest.entries.keys == paths)
        for (k, path) in paths.enumerated() { #expect(manifest[path]?.id == ObjectID.blob([UInt8(k)])) }
    }

    /// A state holds two manifests: the second, in order on its own, is read as such (and the first's order does not
    /// leak into it).
    @Test func eachTableOfAFileIsInOrderOnItsOwn() throws {
        var state = TargetState(
            target: "/t", commit: ObjectID.blob([1]), ref: "main", appliedAtNs: 1,
            manifest: Manifest(
                entries: ["x", "y"].reduce(into: PathTable()) { $0.append($1, .init(mode: .regular, id: .emptyBlob)) }))
        state.keptLocal = Manifest(entries: [
            "a": .init(mode: .regular, id: .emptyBlob), "b": .init(mode: .regular, id: .emptyBlob),
        ])
        let read = try #require(TargetState(encoded: state.encoded()))
        #expect(read == state)
        #expect(read.keptLocal.entries.keys == ["a", "b"])
    }
}
