import Glibc
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// Where the split walk writes its parts: in place, or copied when one outgrows its room.
extension SplitWalkTests {
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
}
