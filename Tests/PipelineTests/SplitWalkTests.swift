import Foundation
import Glibc
import SmartSyncGitObjects
import Synchronization
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The scan's walk shared out over threads (``WalkSplit``) finds what one thread's walk finds, in the same order, with
/// the same cache join, statistics, exclusions and errors: forced on small trees, in every shape the split can take.
@Suite struct SplitWalkTests {
    /// The shapes: handed out at once, the default, levels listed on the workers before handing out at levels 2 and 3,
    /// everything listed (nothing handed out), and the split's bookkeeping on one thread.
    static let splits: [WalkSplit] = [
        WalkSplit(workers: 4, shares: 1, depth: 1),
        WalkSplit(workers: 4),
        WalkSplit(workers: 2, shares: 40, depth: 3),
        WalkSplit(workers: 3, shares: 1_000, depth: 3),
        WalkSplit(workers: 2, shares: 100_000, depth: 20),
        WalkSplit(workers: 1, shares: 40, depth: 2),
    ]

    /// The tricky names of ``SortedWalkTests`` at the root and again three levels down in a few places, many
    /// directories (`d00`…`d23`, each `sN/tN/fN`), a wide directory of files, a FIFO, and symlinks to directories.
    static func makeTree(_ root: String) throws {
        mkdir(root, 0o755)
        try SortedWalkTests.makeTree(root)
        for i in 0..<24 {
            let d = root + "/" + String(format: "d%02d", i)
            for j in 0..<3 {
                for k in 0..<2 {
                    for f in 0..<4 { try TestFiles.write(d + "/s\(j)/t\(k)/f\(f)", "\(i) \(j) \(k) \(f)\n") }
                }
            }
            if i % 5 == 0 { try SortedWalkTests.makeTree(d + "/s1/t0") }
        }
        for f in 0..<300 { try TestFiles.write(root + "/wide/f\(f)", "wide \(f)\n") }
        for f in 0..<200 { try TestFiles.write(root + "/zz-big/sub/f\(f)", "big \(f)\n") }
        mkfifo(root + "/d01/s0/fifo", 0o644)
        symlink("d00", root + "/to-d00")
        symlink("..", root + "/d07/s0/up")
        symlink("f0", root + "/wide/link")
    }

    static func expectSame(
        _ split: TargetScanner.Result, _ one: TargetScanner.Result, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(split.tree.entries.keys == one.tree.entries.keys, sourceLocation: sourceLocation)
        #expect(split.tree.entries == one.tree.entries, sourceLocation: sourceLocation)
        #expect(split.tree.excluded == one.tree.excluded, sourceLocation: sourceLocation)
        #expect(split.cache == one.cache, sourceLocation: sourceLocation)
        #expect(split.statistics == one.statistics, sourceLocation: sourceLocation)
    }

    static func scanner(_ threads: TargetScanner.Threads, _ base: TargetScanner = TargetScanner()) -> TargetScanner {
        var scanner = base
        scanner.threads = threads
        return scanner
    }

    /// A temporary directory with the tree at `t` (made once for every shape: a test's scans leave it as it was) and
    /// an empty `aside`.
    static func tree() throws -> (dir: TemporaryDirectory, target: String) {
        let dir = try TemporaryDirectory(prefix: "split-walk")
        try makeTree(dir["t"])
        mkdir(dir["aside"], 0o755)
        // Past the racy tick: files stamped before the scans start are cached by each of them alike.
        usleep(20_000)
        return (dir, dir["t"])
    }

    @Test func aSplitWalkFindsWhatOneThreadFinds() throws {
        let (dir, target) = try Self.tree()
        defer { dir.remove() }
        let one = Self.scanner(.one)
        let cold = try one.scan(target: target)
        for split in Self.splits {
            Self.expectSame(try Self.scanner(.split(split)).scan(target: target), cold)
        }
        #expect(cold.statistics.entries == cold.tree.entries.count)
        #expect(cold.tree["to-d00"]?.kind == .symlink)
        #expect(cold.tree["d07/s0/up"]?.kind == .symlink)
        #expect(!cold.tree.entries.keys.contains { TreePath("to-d00").isAncestor(of: $0) })
        #expect(cold.tree["d01/s0/fifo"]?.kind == .other)
        #expect(cold.tree[TreePath(bytes: Array("d05/s1/t0/caf".utf8) + [0xE9] + Array("/f".utf8))]?.kind == .regular)

        var cache = cold.cache
        usleep(20_000)  // past the racy tick
        try cache.save(to: dir["cache"])
        let loaded = try StatCache.load(from: dir["cache"])
        let warmOne = try one.scan(target: target, cache: loaded)
        for split in Self.splits {
            let warm = try Self.scanner(.split(split)).scan(target: target, cache: loaded)
            Self.expectSame(warm, warmOne)
            // Every file found by its part's cursor: one missed would be hashed again, and the cache not taken as it
            // was.
            #expect(warm.statistics.filesHashed == 0, "\(split)")
            #expect(warm.statistics.cacheHits == loaded.entries.count, "\(split)")
            #expect(warm.cache.entries == loaded.entries, "\(split)")
        }

        // Files changed at several depths, in the root's tricky names and deep in a subtree: only they are hashed.
        for changed in ["a-", "d03/s2/t1/f0", "d10/s1/t0/a/b0", "zz-big/sub/f199"] {
            try TestFiles.write(target + "/" + changed, "changed\n", mode: 0o444)
        }
        usleep(20_000)
        let againOne = try one.scan(target: target, cache: loaded)
        #expect(againOne.statistics.filesHashed == 4)
        #expect(againOne.tree["d10/s1/t0/a/b0"]?.id == ObjectID.blob(Array("changed\n".utf8)))
        for split in Self.splits {
            Self.expectSame(try Self.scanner(.split(split)).scan(target: target, cache: loaded), againOne)
        }
    }

    @Test func excludedSubtreesAreLeftOutAsByOneThread() throws {
        let (dir, target) = try Self.tree()
        defer { dir.remove() }
        let base = TargetScanner(ignoredNames: ["t1", "b.c"], excludes: ExcludeSet(["d03", "d1*/s2", "wide/f1*"]))
        let one = try Self.scanner(.one, base).scan(target: target)
        let excluded = one.tree.excluded
        #expect(excluded.isSuperset(of: ["d03", "d10/s2", "d19/s2", "wide/f1", "wide/f150", "d00/s0/t1", "a/b.c"]))
        #expect(excluded.contains("d00/s1/t0/a/b.c"))
        #expect(!one.tree.entries.keys.contains { $0 == "d03" || TreePath("d03").isAncestor(of: $0) })
        #expect(one.tree["d04/s2/t0/f0"] != nil)
        for split in Self.splits { Self.expectSame(try Self.scanner(.split(split), base).scan(target: target), one) }
    }

    /// Each directory of `paths`, as the walk is about to open it, is moved aside (`replacement` nil: gone) or
    /// replaced by `replacement` (a file, a symlink to a directory); afterwards it is put back.
    static func scan(
        _ scanner: TargetScanner, target: String, cache: StatCache = StatCache(), aside: String, paths: [TreePath],
        replacement: (@Sendable (String) -> Void)? = nil
    ) throws -> TargetScanner.Result {
        let moved = Mutex<[TreePath]>([])
        var scanner = scanner
        scanner.beforeOpening = { path in
            guard let i = paths.firstIndex(of: path) else { return }
            let from = target + "/" + path.description
            guard rename(from, aside + "/\(i)") == 0 else { return }
            moved.withLock { $0.append(path) }
            replacement?(from)
        }
        defer {
            for path in moved.withLock({ $0 }) {
                let from = target + "/" + path.description
                unlink(from)
                rename(aside + "/\(paths.firstIndex(of: path) ?? 0)", from)
            }
        }
        let result = try scanner.scan(target: target, cache: cache)
        #expect(moved.withLock { Set($0) } == Set(paths), "every directory was opened, once")
        return result
    }

    /// What a scan found, without the `stat` data that moving a directory aside and back changes (its parent's times).
    static func found(_ result: TargetScanner.Result) -> [String] {
        result.tree.entries.values.map { "\($0.path) \($0.kind) \($0.id?.description ?? "-") \($0.size)" }
    }

    /// A killed run's temporary files (the tool's exact shape) are passed over by every shape of the split as by one
    /// thread: at the root (recorded on the calling thread), in directories the split lists on its workers, and
    /// inside subtrees; a directory of that shape is the operator's, scanned. The split's levels recorded them (a
    /// `plan` counted a root leftover as untracked, kept, while the switch drops it).
    @Test func aSplitWalkPassesOverLeftoverTemporaryFiles() throws {
        let (dir, target) = try Self.tree()
        defer { dir.remove() }
        let leftovers: [TreePath] = [
            ".smart-sync-tmp-abcd", "d03/.smart-sync-tmp-0123456789abcdef", "d05/s1/.smart-sync-tmp-ff",
            "d09/s2/t1/.smart-sync-tmp-1",
        ]
        for path in leftovers { try TestFiles.write(target + "/" + path.description, "a leftover\n") }
        try TestFiles.write(target + "/.smart-sync-tmp-1a2b/mine", "mine\n")
        try TestFiles.write(target + "/d03/.smart-sync-tmp-notes", "mine\n")
        usleep(20_000)
        let one = try Self.scanner(.one).scan(target: target)
        for path in leftovers { #expect(one.tree[path] == nil, "\(path)") }
        #expect(one.tree[".smart-sync-tmp-1a2b/mine"]?.kind == .regular)
        #expect(one.tree["d03/.smart-sync-tmp-notes"]?.kind == .regular)
        for split in Self.splits {
            let parted = try Self.scanner(.split(split)).scan(target: target)
            for path in leftovers { #expect(parted.tree[path] == nil, "\(path) \(split)") }
            Self.expectSame(parted, one)
        }
    }

    /// Directories gone between their parent's listing and their opening, at levels 1 to 4: each listed, nothing below
    /// it, whether the split listed it, handed it out or met it inside a subtree.
    @Test func aDirectoryRemovedWhileScanningIsSkippedAsByOneThread() throws {
        let (dir, target) = try Self.tree()
        defer { dir.remove() }
        let gone: [TreePath] = ["d02", "d04/s2", "d06/s0/t1", "d00/s1/t0/a"]
        let one = try Self.scan(Self.scanner(.one), target: target, aside: dir["aside"], paths: gone)
        for path in gone {
            #expect(one.tree[path]?.kind == .directory)
            #expect(!one.tree.entries.keys.contains { path.isAncestor(of: $0) })
        }
        #expect(one.tree["d00/s1/t0/a-"]?.kind == .regular)
        #expect(one.tree["d04/s1/t0/f0"]?.kind == .regular)
        for split in Self.splits {
            let parted = try Self.scan(Self.scanner(.split(split)), target: target, aside: dir["aside"], paths: gone)
            #expect(Self.found(parted) == Self.found(one), "\(split)")
            #expect(parted.statistics == one.statistics, "\(split)")
        }
    }

    /// A directory swapped for a symlink to a directory just before it is opened is not followed: the scan fails
    /// naming it, as one thread's does. So does a symlink replaced by a file before it is read, at the root (recorded
    /// last, on the calling thread), in a directory the split listed, or inside a subtree. With two failures, the
    /// first in path order is the one thrown, though the later one may be in the biggest subtree (by the stat cache),
    /// handed out first, or met while the split lists a level.
    @Test func aFailureIsThrownWhereOneThreadMeetsItFirst() throws {
        let (dir, target) = try Self.tree()
        defer { dir.remove() }
        mkdir(dir["elsewhere"], 0o755)
        let before = try TargetScanner().scan(target: target)
        var cache = before.cache
        usleep(20_000)
        try cache.save(to: dir["cache"])
        let loaded = try StatCache.load(from: dir["cache"])
        let elsewhere = dir["elsewhere"]
        func failure(_ threads: TargetScanner.Threads, _ paths: [TreePath], symlinkTo: String?) -> String? {
            do {
                _ = try Self.scan(
                    Self.scanner(threads), target: target, cache: loaded, aside: dir["aside"], paths: paths,
                    replacement: { path in
                        if let symlinkTo {
                            symlink(symlinkTo, path)
                        } else {
                            close(open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644))
                        }
                    })
                return nil
            } catch {
                return "\(error)"
            }
        }
        // What is swapped, and which of it the failure names.
        let cases: [(paths: [TreePath], symlinkTo: String?, first: TreePath)] = [
            (["d05/s1"], elsewhere, "d05/s1"),
            (["zz-big/sub", "d01/s0/t0"], nil, "d01/s0/t0"),
            (["to-d00"], nil, "to-d00"),
            (["d07/s0/up"], nil, "d07/s0/up"),
            (["zz-big/sub", "wide/link"], nil, "wide/link"),
            (["wide/link", "d01/s0/t0"], nil, "d01/s0/t0"),
            (["d07/s0/up", "a/b.c/l"], nil, "a/b.c/l"),
        ]
        for (paths, symlinkTo, first) in cases {
            let one = failure(.one, paths, symlinkTo: symlinkTo)
            #expect(one?.contains("'\(target)/\(first)'") == true, "\(one ?? "no failure")")
            for split in Self.splits {
                #expect(failure(.split(split), paths, symlinkTo: symlinkTo) == one, "\(split) \(paths)")
            }
        }
        // Each swap undone.
        let after = try TargetScanner().scan(target: target, cache: loaded)
        #expect(after.tree.entries.keys == before.tree.entries.keys)
        #expect(after.statistics.filesHashed == 0)
    }

    /// The order check made as paths are recorded and parts joined (``ScanWalker/follow(_:)``, the bytes compared
    /// as ``TreePath/compare(_:)`` does): a path after its parent, after a shorter sibling, or of bytes that are not
    /// UTF-8 keeps the walk in order; a path again, or one sorting before the last, marks it out of order for good.
    @Test func theWalksOrderCheckFindsAPathOutOfPlace() {
        var walker = ScanWalker(TargetScanner(), target: "/nonexistent", old: StatCache())
        for path in ["a", "a-b", "a/b", "a/b/c", "a0", "b", "b\u{7F}"] { walker.follow(TreePath(path)) }
        walker.follow(TreePath(bytes: [0x62, 0xFF]))
        #expect(walker.inOrder)
        #expect(walker.previous == [0x62, 0xFF])
        walker.follow(TreePath(bytes: [0x62, 0xFF]))
        #expect(!walker.inOrder)

        for wrong in [["x", "x"], ["x/y", "x"], ["x0", "x/y"], ["y", "x"]] {
            var walker = ScanWalker(TargetScanner(), target: "/nonexistent", old: StatCache())
            for path in wrong { walker.follow(TreePath(path)) }
            #expect(!walker.inOrder, "\(wrong)")
            walker.follow(TreePath("z"))
            #expect(!walker.inOrder, "stays out of order: \(wrong)")
        }
    }

    @Test func smallTreesAndSingleCoresWalkOnOneThread() {
        #expect(WalkSplit.automatic(files: WalkSplit.minimumFiles - 1) == nil)
        let big = WalkSplit.automatic(files: 20_000)
        if ParallelWork.cores > 1 {
            #expect(big == WalkSplit(workers: ParallelWork.cores, shares: 4 * ParallelWork.cores, depth: 3))
        } else {
            #expect(big == nil)
        }
        #expect(ParallelWork.cores <= ParallelWork.maximumWorkers)
    }

    /// Items taken in the order given (the biggest first), each exactly once, the results in index order.
    @Test func sharedWorkRunsEachItemOnceAndKeepsTheIndexOrder() {
        let ran = Mutex<[Int]>([])
        let order = Array((0..<500).reversed())
        let squares = ParallelWork.map(count: 500, workers: 4, order: order) { i in
            ran.withLock { $0.append(i) }
            return i * i
        }
        #expect(squares == (0..<500).map { $0 * $0 })
        #expect(ran.withLock { $0 }.sorted() == Array(0..<500))
        #expect(ParallelWork.map(count: 0, workers: 4) { $0 }.isEmpty)
        #expect(ParallelWork.map(count: 3, workers: 1) { -$0 } == [0, -1, -2])
    }
}
