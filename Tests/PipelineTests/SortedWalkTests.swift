import Foundation
import Glibc
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The walks of the scan and the recycler yield paths in byte order with no sort afterwards (``SortedDirectory``): on
/// names where a directory's siblings sort between its own name and its contents, names of bytes >= 0x80 and names
/// that are not UTF-8.
@Suite struct SortedWalkTests {
    static func path(_ bytes: [UInt8]) -> TreePath { TreePath(bytes: bytes) }
    static func path(_ text: String, _ tail: [UInt8], _ rest: String = "") -> TreePath {
        TreePath(bytes: Array(text.utf8) + tail + Array(rest.utf8))
    }

    /// Files; their directories come with them. `a` and `x` are directories with siblings on both sides of `a/`.
    static let files: [TreePath] = [
        "a/b", "a/b-", "a/b.c/d", "a/b0", "a/b+", "a+", "a-", "a.b", "a0", "a\u{E9}", path("a", [0xFF]),
        path("a", [0xFE], "/x"), "ab", "x/y/z", "x.y", "x-y/z", "x0", path("caf", [0xE9], "/f"),
        path("caf", [0xE9], ".txt"), "\u{E9}/f", "e\u{301}", "\u{2603}/\u{2603}-/x",
    ]
    static let emptyDirectories: [TreePath] = ["e", "a/b.c/e"]
    /// Symlinks (to a directory, too: listed, never descended).
    static let symlinks: [TreePath] = ["l", "a/b.c/l"]

    /// Every path of the tree: files, symlinks, directories.
    static var allPaths: [TreePath] {
        var all = Set(files + emptyDirectories + symlinks)
        for p in files + emptyDirectories + symlinks { all.formUnion(p.ancestors) }
        return all.sorted()
    }

    static func cString(_ root: String, _ path: TreePath) -> [CChar] {
        (Array(root.utf8) + [0x2F] + path.bytes + [0]).map { CChar(bitPattern: $0) }
    }

    /// Makes the tree under `root` by the paths' bytes.
    static func makeTree(_ root: String) throws {
        func makeDirectory(_ path: TreePath) {
            for p in path.ancestors.reversed() + [path] { mkdir(cString(root, p), 0o755) }
        }
        for (i, file) in files.enumerated() {
            makeDirectory(file.parent)
            let fd = open(cString(root, file), O_WRONLY | O_CREAT | O_EXCL, 0o444)
            try #require(fd >= 0, "\(file)")
            _ = Array("file \(i)\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        for d in emptyDirectories { makeDirectory(d) }
        for l in symlinks {
            makeDirectory(l.parent)
            try #require(symlink("..", cString(root, l)) == 0)
        }
    }

    /// The paths a depth-first walk over ``SortedDirectory`` steps yields, in its order (`fd` stays open).
    static func sortedWalk(_ fd: Int32, _ prefix: TreePath = .root) throws -> [TreePath] {
        var out: [TreePath] = []
        lseek(fd, 0, SEEK_SET)  // a listing may have left `fd` at the end
        let listing = try SortedDirectory(listing: fd, display: "t")
        for step in listing.steps {
            let name = listing.name(step.index)
            let path = prefix.appending(name)
            guard step.descends else {
                out.append(path)
                continue
            }
            let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            try #require(sub >= 0)
            defer { close(sub) }
            out += try sortedWalk(sub, path)
        }
        return out
    }

    /// The walk in git's tree order only: each directory's entries sorted with a directory as `name/`, each directory
    /// recorded where that order puts it and its contents right after it. Directories told by `d_type`.
    static func treeOrderWalk(_ fd: Int32, _ prefix: TreePath = .root) throws -> [(path: TreePath, isDirectory: Bool)] {
        var out: [(TreePath, Bool)] = []
        let entries = try directoryEntries(fd, display: "t").sorted { a, b in
            a.name.withBytes { x in
                b.name.withBytes { y in SortedDirectory.precedes(x, slash: a.type == DT_DIR, y, slash: b.type == DT_DIR) }
            }
        }
        for (name, type) in entries {
            let path = prefix.appending(name)
            out.append((path, type == DT_DIR))
            guard type == DT_DIR else { continue }
            let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            try #require(sub >= 0)
            defer { close(sub) }
            out += try treeOrderWalk(sub, path)
        }
        return out
    }

    static func openDirectory(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        return fd
    }

    /// Calls `body` with the descriptor of the tree, made in a temporary directory.
    static func withTree<R>(_ body: (Int32) throws -> R) throws -> R {
        let dir = try TemporaryDirectory(prefix: "sorted-walk")
        defer { dir.remove() }
        try makeTree(dir.path)
        let fd = try openDirectory(dir.path)
        defer { close(fd) }
        return try body(fd)
    }

    @Test func theWalkYieldsEveryPathInByteOrder() throws {
        let walked = try Self.withTree { try Self.sortedWalk($0) }
        #expect(walked == Self.allPaths)
        #expect(PathTable<Int>.isStrictlyIncreasing(walked))
    }

    /// The claim "order each directory's children by git's tree order and recurse depth-first, and the concatenation
    /// is sorted by path bytes" holds for the files, not for the directories' own entries, which a scan records.
    @Test func treeOrderAloneSortsTheFilesButNotTheDirectoriesOwnEntries() throws {
        let walked = try Self.withTree { try Self.treeOrderWalk($0) }
        let files = walked.filter { !$0.isDirectory }.map(\.path)
        #expect(files == Self.allPaths.filter { Set(files).contains($0) })
        #expect(PathTable<Int>.isStrictlyIncreasing(files))
        let all = walked.map(\.path)
        #expect(Set(all) == Set(Self.allPaths))
        #expect(!PathTable<Int>.isStrictlyIncreasing(all))
        // `a+`, `a-` and `a.b` sort between the directory `a` and `a/b`, so tree order puts them before `a` itself.
        let position = Dictionary(uniqueKeysWithValues: all.enumerated().map { ($1, $0) })
        #expect(try #require(position["a-"]) < #require(position["a"]))
        #expect(try #require(position["a"]) < #require(position["a/b"]))
    }

    @Test func theScanJoinsItsCacheInOneForwardPassOverTrickyNames() throws {
        let dir = try TemporaryDirectory(prefix: "sorted-walk")
        defer { dir.remove() }
        let target = dir["t"]
        mkdir(target, 0o755)
        try Self.makeTree(target)
        usleep(20_000)  // past the racy tick: files stamped before the scan starts are cached
        let first = try TargetScanner().scan(target: target)
        #expect(first.tree.entries.keys == Self.allPaths)
        #expect(first.statistics.filesHashed == Self.files.count)
        #expect(first.statistics.entries == Self.allPaths.count)
        #expect(first.tree["a"]?.kind == .directory)
        #expect(first.tree["l"]?.kind == .symlink)
        #expect(first.tree["a/b.c/l"]?.kind == .symlink)
        #expect(first.tree[Self.path("caf", [0xE9], "/f")]?.id == ObjectID.blob(Array("file 17\n".utf8)))

        var cache = first.cache
        usleep(20_000)  // past the racy tick
        try cache.save(to: dir["cache"])
        let loaded = try StatCache.load(from: dir["cache"])
        let again = try TargetScanner().scan(target: target, cache: loaded)
        // Every file found by the forward cursor: a path missed (out of order) would be hashed again.
        #expect(again.statistics.filesHashed == 0)
        #expect(again.statistics.cacheHits == Self.files.count)
        #expect(again.tree.entries == first.tree.entries)
        // The cache was taken as it was (nothing hashed, every entry vouched for).
        #expect(again.cache.entries == loaded.entries)

        // Two files changed, on either side of the directory `a`'s contents: only they are hashed.
        for changed in ["a-", "a/b0"] as [TreePath] {
            unlink(Self.cString(target, changed))
            let fd = open(Self.cString(target, changed), O_WRONLY | O_CREAT | O_EXCL, 0o444)
            _ = write(fd, "new\n", 4)
            close(fd)
        }
        usleep(20_000)
        let third = try TargetScanner().scan(target: target, cache: loaded)
        #expect(third.statistics.filesHashed == 2)
        #expect(third.tree["a/b0"]?.id == ObjectID.blob(Array("new\n".utf8)))
        #expect(third.cache.entries.keys == Self.files.sorted())
    }

    @Test func excludedNamesAndGlobsAreLeftOutOfTheOrderedWalk() throws {
        let dir = try TemporaryDirectory(prefix: "sorted-walk")
        defer { dir.remove() }
        try Self.makeTree(dir.path)
        let excludes = ExcludeSet(["a.b", "x/*", "caf*"])
        let result = try TargetScanner(ignoredNames: ["b.c"], excludes: excludes).scan(target: dir.path)
        let excluded: Set<TreePath> = ["a/b.c", "a.b", "x/y", Self.path("caf", [0xE9]), Self.path("caf", [0xE9], ".txt")]
        #expect(result.tree.excluded == excluded)
        let kept = Self.allPaths.filter { path in !excluded.contains { $0 == path || $0.isAncestor(of: path) } }
        #expect(result.tree.entries.keys == kept)
    }

    /// A mounted ext4 without `filetype`, whose `readdir` says `DT_UNKNOWN` for every entry; nil (an issue recorded)
    /// where none can be made.
    static func fileSystemWithoutDType() throws -> LoopFileSystem? {
        switch try LoopFileSystem.make(.ext4, megabytes: 64, options: ["-O", "^filetype"]) {
        case .success(let made): return made
        case .failure(let why):
            Issue.record("no ext4 without filetype here: \(why)")
            return nil
        }
    }

    /// On a file system that does not fill in `d_type` (ext4 without `filetype`), the walk orders and descends by the
    /// `lstat` it does anyway.
    @Test func aFileSystemWithoutDTypeIsWalkedInOrder() throws {
        guard let fs = try Self.fileSystemWithoutDType() else { return }
        let root = fs.appending("t")
        mkdir(root, 0o755)
        try Self.makeTree(root)
        let fd = try Self.openDirectory(root)
        defer { close(fd) }
        let types = try directoryEntries(fd, display: root).map(\.type)
        try #require(types.allSatisfy { $0 == DT_UNKNOWN }, "this file system reports d_type: \(types)")
        #expect(try Self.sortedWalk(fd) == Self.allPaths)
        let scan = try TargetScanner().scan(target: root)
        #expect(scan.tree.entries.keys == Self.allPaths)
        #expect(scan.tree["a/b.c"]?.kind == .directory)
        #expect(scan.tree["a/b.c/l"]?.kind == .symlink)
    }

    /// A directory whose entries take many `getdents64` calls (``SortedDirectory/listingBuffer`` each), with names of
    /// lengths up to 255 bytes and names that are not UTF-8, is listed whole: the names `readdir` gives, each with its
    /// own `lstat`, in byte order; entries removed before the listing, or between a name's listing and its `lstat`,
    /// are not in it.
    @Test func aDirectoryOfManyListingBuffersIsListedWhole() throws {
        let dir = try TemporaryDirectory(prefix: "sorted-walk")
        defer { dir.remove() }
        var made: [TreePath] = []
        for i in 0..<3_000 {
            // Up to 255 bytes (name 1 is 255); every third name starts with bytes that are not UTF-8.
            let stem = (i % 3 == 0 ? [0xFF, 0xC0] : []) + Array(String(i).utf8)
            let wanted = i == 1 ? 255 : 1 + (i * 7) % 255
            let name = stem + [UInt8](repeating: 0x61 + UInt8(i % 26), count: max(0, wanted - stem.count))
            made.append(TreePath(bytes: name))
            if i % 500 == 7 {  // a few directories among them
                try #require(mkdir(Self.cString(dir.path, made[i]), 0o755) == 0)
                continue
            }
            let fd = open(Self.cString(dir.path, made[i]), O_WRONLY | O_CREAT | O_EXCL, 0o644)
            try #require(fd >= 0, "\(i)")
            _ = Array(repeating: UInt8(0x78), count: i % 5).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        for gone in stride(from: 11, to: 3_000, by: 97) { unlink(Self.cString(dir.path, made[gone])) }
        // Name 1000 goes between its listing and its `lstat` (`including` runs just before the `lstat`).
        let vanishing = made[1_000]
        let kept = Set(made.enumerated().filter { $0.offset < 11 || ($0.offset - 11) % 97 != 0 }.map(\.element))
            .subtracting([vanishing])
        #expect(kept.contains { $0.bytes.count == 255 })
        let fd = try Self.openDirectory(dir.path)
        defer { close(fd) }
        var sawVanishing = false
        let listing = try SortedDirectory(listing: fd, display: dir.path) { name in
            if TreePath(bytes: Array(name)) == vanishing {
                sawVanishing = true
                #expect(unlinkat(fd, Self.cString(dir.path, vanishing), 0) == 0)
            }
            return true
        }
        #expect(sawVanishing)
        // More than one buffer's worth of records.
        #expect(kept.reduce(0) { $0 + 24 + $1.bytes.count } > 4 * SortedDirectory.listingBuffer)
        let names = listing.children.indices.map { listing.name($0) }
        #expect(names.count == kept.count)
        #expect(Set(names) == kept)
        #expect(try Set(directoryNames(fd, display: dir.path)) == kept)
        // Each child carries its own `lstat`.
        for i in listing.children.indices {
            var st = stat()
            try #require(fstatat(fd, Self.cString(dir.path, names[i]), &st, AT_SYMLINK_NOFOLLOW) == 0)
            #expect(listing.children[i].stat == StatData(st))
            #expect(listing.children[i].owner == st.st_uid)
        }
        // Every name visited once, in byte order, and each directory descended once.
        #expect(listing.steps.filter { !$0.descends }.map { listing.name($0.index) } == kept.sorted())
        let directories = Set(stride(from: 7, to: 3_000, by: 500).map { made[$0] })
        #expect(Set(listing.steps.filter(\.descends).map { listing.name($0.index) }) == directories)
        #expect(
            listing.children.indices.allSatisfy { listing.children[$0].isDirectory == directories.contains(names[$0]) })
    }
}

/// The recycler's one pass, in byte order, over a spare whose directories have siblings between their name and their
/// contents: kept files come out as a table, directories the new tree has are kept, the others removed.
@Suite(.serialized) struct SortedRecycleTests {
    @Test func aSpareWithTrickyNamesIsRecycledKeepingWhatIsUnchanged() async throws {
        let repo = try GitFixture()
        let shared = [
            "a/x", "a/x-", "a/x.y/z", "a-", "a.b/c", "a0", "b/c/d", "b/c-", "b/c.e", "\u{E9}/f", "e\u{301}", "k/k/k",
        ]
        for (i, p) in shared.enumerated() { try repo.write(p, "shared \(i)\n") }
        try repo.write("a+/gone", "A only\n")  // a directory B lacks, between `a` and `a/`
        try repo.write("b/c/old", "A only\n")
        try repo.write("a/x0", "A\n")
        let a = try repo.commit("A")
        try repo.remove("a+/gone")
        try repo.remove("b/c/old")
        try repo.write("a/x0", "B\n")
        try repo.write("a-b/new", "B only\n")
        let b = try repo.commit("B")

        let dirs = try TemporaryDirectory(prefix: "recycle-sorted")
        let target = dirs["target"]
        var runner = SyncRunner(
            source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: dirs["store"]),
            state: try StateStore(root: dirs["state"]))
        runner.keepGenerations = 1
        runner.commitPolicy = CommitPolicy(allowDowngrade: true)
        for ref in [a, b, a] { _ = try await runner.sync(.init(ref: ref, target: target)) }  // the spare holds A's tree
        let spare = dirs.path + "/.target.smart-sync/generations/spare/tree"
        func inode(_ path: String) -> UInt64 {
            var st = stat()
            return lstat(path, &st) == 0 ? UInt64(st.st_ino) : 0
        }
        let spareInodes = shared.map { inode(spare + "/" + $0) }
        #expect(!spareInodes.contains(0))

        let outcome = try await runner.sync(.init(ref: b, target: target))
        let applied = try #require(outcome.applied)
        #expect(applied.recycled)
        #expect(try DirectorySnapshot(of: target) == repo.archiveSnapshot(commit: b))
        // Every unchanged file kept (same inode), as a table; only the two B changes placed.
        #expect(applied.unchangedStats.keys == shared.map { TreePath($0) }.sorted())
        #expect(shared.map { inode(target + "/" + $0) } == spareInodes)
        #expect(applied.filesLinked + applied.filesReflinked + applied.filesCopied == 2, "\(applied)")
        #expect(!FileManager.default.fileExists(atPath: target + "/a+"))
        #expect(!FileManager.default.fileExists(atPath: target + "/b/c/old"))
    }
}
