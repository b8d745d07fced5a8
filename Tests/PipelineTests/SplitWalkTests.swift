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

    /// Where the split writes its parts (``ScanWalker/Slot``): in place when the stat cache gave the subtrees room
    /// enough (a warm scan, the gaps closed by the join; a part that outgrew its room by less than the others left
    /// unused, its overflow moved in after it), else copied: a cold scan (no cache, every subtree given the least
    /// room), or a warm one after many files were added under one subtree. Whichever, what one thread finds, in every
    /// shape of the split; the failure too.
    @Test func partsArePutInPlaceOrCopiedWhenOneOutgrowsItsRoom() throws {
        let (dir, target) = try Self.tree()
        defer { dir.remove() }
        // Handed out at the root's level: each `dNN` a part of 33 entries or more, `zz-big` one of 202.
        let rootLevel = WalkSplit(workers: 4)
        let one = Self.scanner(.one)
        func expectSplits(
            cache: StatCache, inPlace: Bool, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let byOne = try one.scan(target: target, cache: cache)
            #expect(byOne.splitInPlace == nil, sourceLocation: sourceLocation)
            for split in Self.splits + [rootLevel] {
                let parted = try Self.scanner(.split(split)).scan(target: target, cache: cache)
                Self.expectSame(parted, byOne, sourceLocation: sourceLocation)
                if split == rootLevel {
                    #expect(parted.splitInPlace == inPlace, comment, sourceLocation: sourceLocation)
                }
            }
        }
        try expectSplits(cache: StatCache(), inPlace: false, "a cold scan's parts outgrow their least room")
        var cache = try one.scan(target: target).cache
        usleep(20_000)  // past the racy tick
        try cache.save(to: dir["cache"])
        let loaded = try StatCache.load(from: dir["cache"])
        try expectSplits(cache: loaded, inPlace: true, "warm")

        // A failure (`d06/s0` or `d07/s0` swapped for a symlink): thrown as by one thread, every shape.
        mkdir(dir["elsewhere"], 0o755)
        let elsewhere = dir["elsewhere"]
        func failure(_ threads: TargetScanner.Threads, at path: TreePath) -> String? {
            do {
                _ = try Self.scan(
                    Self.scanner(threads), target: target, cache: loaded, aside: dir["aside"], paths: [path],
                    replacement: { path in symlink(elsewhere, path) })
                return nil
            } catch {
                return "\(error)"
            }
        }
        func expectFailures(sourceLocation: SourceLocation = #_sourceLocation) {
            for path: TreePath in ["d06/s0", "d07/s0"] {
                let oneFailure = failure(.one, at: path)
                #expect(
                    oneFailure?.contains("'\(target)/\(path)'") == true, "\(oneFailure ?? "no failure")",
                    sourceLocation: sourceLocation)
                for split in Self.splits + [rootLevel] {
                    #expect(
                        failure(.split(split), at: path) == oneFailure, "\(split) \(path)",
                        sourceLocation: sourceLocation)
                }
            }
        }

        // The room each part at the root level leaves unused: its room by the cache (``WalkSplit/room(files:)``) less
        // its entries now (less than 0: its overflow).
        func roomLeft() throws -> [TreePath: Int] {
            let now = try one.scan(target: target, cache: loaded).tree.entries
            var left: [TreePath: Int] = [:]
            for directory in now.values where directory.kind == .directory && directory.path.depth == 1 {
                let files = loaded.entries.descendants(of: directory.path).count
                left[directory.path] = WalkSplit.room(files: files) - now.descendants(of: directory.path).count
            }
            return left
        }
        // 60 files more in `zz-big` than the cache counts there (room 241 for 261 entries: 20 over), and `d05`'s
        // room and 10 more in `d05` (11 over with their directory, before `d06`): each overflow fits in what the parts
        // before it left unused (ten or so each). In place, a failure at `d06` or `d07` is thrown as by one thread, the
        // parts after it (`d07`'s entries in their slot) let go with the table.
        let d05 = try #require(try roomLeft()["d05"])
        for f in 0..<60 { try TestFiles.write(target + "/zz-big/sub/g\(f)", "new \(f)\n") }
        for f in 0..<(d05 + 10) { try TestFiles.write(target + "/d05/s0/t0/new/g\(f)", "new \(f)\n") }
        usleep(20_000)
        #expect(try roomLeft()["d05"] == -11)
        #expect(try roomLeft()["zz-big"] == -20)
        try expectSplits(cache: loaded, inPlace: true, "overflows made up for by the other parts' room")
        expectFailures()

        // The room left by the parts up to `zz-big` (those after it, `é` and `☃`, come too late to take its overflow)
        // taken exactly by files added to it: in place; one more: copied.
        let left = try roomLeft().filter { $0.key <= "zz-big" }.values.reduce(0, +)
        #expect(left > 0)
        for f in 0..<left { try TestFiles.write(target + "/zz-big/sub/h\(f)", "new \(f)\n") }
        usleep(20_000)
        try expectSplits(cache: loaded, inPlace: true, "an overflow exactly the room left")
        try TestFiles.write(target + "/zz-big/sub/h\(left)", "new \(left)\n")
        usleep(20_000)
        try expectSplits(cache: loaded, inPlace: false, "an overflow one past the room left")

        // 1,000 in `d05`'s directory: its overflow more than all the room left, and past `d06`'s slot into `d07`'s.
        for f in 0..<1_000 { try TestFiles.write(target + "/d05/s0/t0/new/g\(f)", "new \(f)\n") }
        usleep(20_000)
        #expect(try one.scan(target: target, cache: loaded).statistics.filesHashed == 1_060 + left + 1)
        try expectSplits(cache: loaded, inPlace: false, "an overflow past all the room left")
        // A failure after the outgrown part in path order, met while joining by copy. At `d06`, right after it, with
        // `d07` written in its slot: the overflow reaches past the failed part's room into `d07`'s slot, so the parts
        // are copied (in place, the join wrote the overflow over `d07`'s entries, then let them go twice: a crash).
        expectFailures()
    }

    /// When the join puts the parts in place (``ScanWalker/fits(_:starts:own:capacity:)``): 10 own entries, then
    /// three slots of 10 (the table's 40): an overflow exactly the room the parts before the next left unused fits,
    /// one more does not; the last part may reach the table's end, not past it; the join may reach a failed part's
    /// slot, not go into it (past it lie the next parts' entries).
    @Test func partsFitInPlaceWhileTheJoinStaysBelowTheNextSlot() {
        func fits(_ sizes: [Int?]) -> Bool {
            ScanWalker.fits(sizes, starts: [10, 20, 30], own: 10, capacity: 40)
        }
        #expect(fits([10, 10, 10]))
        #expect(fits([5, 15, 10]))
        #expect(!fits([5, 16, 10]))
        #expect(!fits([11, 9, 10]))
        #expect(fits([5, 10, 15]))
        #expect(!fits([5, 10, 16]))
        #expect(fits([0, 0, 30]))
        #expect(!fits([0, 0, 31]))
        #expect(fits([10, nil, 100]))
        #expect(!fits([11, nil, 0]))
        #expect(fits([5, 15, nil]))
        #expect(!fits([5, 16, nil]))
        #expect(fits([nil, 1_000, 1_000]))
        #expect(ScanWalker.fits([], starts: [], own: 10, capacity: 10))
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
