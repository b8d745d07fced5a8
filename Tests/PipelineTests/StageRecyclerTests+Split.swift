import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The recycler's pass shared out over threads (``StageRecycler/Split``): the calling thread walks the top of the
/// tree, workers the directories below it, and the parts are put back in path order. Forced here on a small tree.
extension StageRecyclerTests {
    /// Handing out the root's directories (`shares` 1) or those one level down (`shares` 1,000: the root has fewer).
    static let splits = [StageRecycler.Split(workers: 2, minimumFiles: 0, shares: 1),
                         StageRecycler.Split(workers: 2, minimumFiles: 0, shares: 1_000)]

    /// Every switch through a split pass lands the commit's tree and keeps, path for path, what one thread keeps.
    @Test(arguments: splits)
    func aSplitPassKeepsWhatOneThreadKeeps(_ split: StageRecycler.Split) async throws {
        let serial = try await Setup(mode: .hardlink)
        let shared = try await Setup(mode: .hardlink)
        for t in [serial, shared] {
            try t.repo.write("deep/a/x.nix", "{ x = 1; }\n")  // deferred one level down when `shares` is 1,000
            try t.repo.write("deep/b/y.nix", "{ y = 1; }\n")
            try t.repo.write("deep/top.nix", "{ }\n")
            t.commits.append(try t.repo.commit("D"))
        }
        shared.runner.recycleSplit = split
        for i in [0, 3, 1, 2, 3, 0, 1, 3] {
            let one = try await serial.sync(i)
            let two = try await shared.sync(i)
            try shared.expectTarget(i)
            #expect(one.applied?.recycled == two.applied?.recycled)
            #expect(one.applied?.unchangedStats.keys == two.applied?.unchangedStats.keys, "commit \(i)")
            // Each value is its own path's (a value written at another path's index would not be): the file's size
            // and mode as one thread saw them, and the inode, size, mode and mtime the target's path has now.
            let kept = try #require(two.applied?.unchangedStats)
            #expect(
                one.applied?.unchangedStats.values.map { [$0.size, Int64($0.mode)] }
                    == kept.values.map { [$0.size, Int64($0.mode)] },
                "commit \(i)")
            for (path, seen) in zip(kept.keys, kept.values) {
                var st = stat()
                #expect(lstat(shared.target + "/" + path.description, &st) == 0)
                let now = StatData(st)
                #expect(
                    [now.inode, UInt64(now.size), UInt64(now.mode), UInt64(now.mtimeNs)]
                        == [seen.inode, UInt64(seen.size), UInt64(seen.mode), UInt64(seen.mtimeNs)],
                    "\(path) after commit \(i)")
            }
        }
        #expect(try shared.runner.state.loadStatCache(target: shared.target).entries.keys.count > 40)
    }

    /// An operator's hard link between two directories the workers walk apart: both paths hold the blob the new
    /// tree wants there (the store's own object), so each part keeps its path; put together, the second path on the
    /// inode goes and is placed anew, and the two paths of the new tree get inodes of their own. (Hard-link mode: the
    /// store vouches for its own object at both paths. Without the check once the parts are together, both were kept.)
    /// The second path in a worker's directory (`d3/`), or at the root, where the calling thread keeps it (`twin.nix`).
    @Test(arguments: ["d3/twin.nix", "twin.nix"])
    func aHardLinkAcrossTwoPartsIsKeptOnce(_ secondPath: String) async throws {
        let t = try await Setup(mode: .hardlink)
        t.runner.recycleSplit = Self.splits[0]
        try t.repo.write("d0/twin.nix", "{ twin = true; }\n")
        try t.repo.write(secondPath, "{ twin = true; }\n")
        t.commits.append(try t.repo.commit("D"))
        for i in [3, 0, 1] { try await t.sync(i) }  // the spare holds D's tree
        let first = t.spare + "/d0/twin.nix", second = t.spare + "/" + secondPath
        // The one of the two the store vouches for (its own object, linked in hard-link mode) is linked at both.
        var a = stat(), b = stat()
        #expect(lstat(first, &a) == 0 && lstat(second, &b) == 0)
        let (from, to) = a.st_nlink >= b.st_nlink ? (first, second) : (second, first)
        #expect(unlink(to) == 0 && link(from, to) == 0)
        #expect(inode(first) == inode(second))
        let shared = inode(first)

        let outcome = try await t.sync(3)
        #expect(outcome.applied?.recycled == true)
        try t.expectTarget(3)
        #expect(inode(t.target + "/d0/twin.nix") != inode(t.target + "/" + secondPath), "two paths share an inode")
        let kept = try #require(outcome.applied?.unchangedStats)
        // The first path in path order keeps the inode, as on one thread; the second is placed anew.
        #expect(kept.keys.filter { $0.description.hasSuffix("twin.nix") } == ["d0/twin.nix"])
        #expect(inode(t.target + "/d0/twin.nix") == shared, "the first path did not keep the inode")
    }
}

extension StageRecyclerTests {
    /// A worker's I/O error (the spare's `d1/f1.nix`, which the new tree changes, is a mount point: its `unlink` is
    /// EBUSY) is an I/O error of the pass as on one thread: the spare is refused and the stage built from the store.
    @Test(arguments: splits)
    func aWorkersIOErrorFallsBackToBuildingFromTheStore(_ split: StageRecycler.Split) async throws {
        guard geteuid() == 0 else {
            print("skipped on this machine: mount --bind needs root")
            return
        }
        let t = try await Self.spareWithMounts(split, at: ["d1/f1.nix"])
        defer { Self.unmountEverything(below: t.dirs.path) }
        let outcome = try await t.sync(1)  // B: d1/f1.nix is not A's
        #expect(outcome.applied?.recycled == false)
        try t.expectTarget(1)
    }

    /// A setup recycling with `split` whose spare holds A's tree (the target C's), with the spare's `paths` (an
    /// operator's file written where there is none) bind mounts of a file outside, so that their `unlink` is EBUSY.
    /// The mounts go once the stage stands, so that the refused spare (moved aside whole, the mounts with it) can be
    /// removed; the caller unmounts what is left (`unmountEverything(below: t.dirs.path)`). Needs root.
    static func spareWithMounts(_ split: StageRecycler.Split, at paths: [String]) async throws -> Setup {
        let t = try await Setup(mode: .hardlink)
        t.runner.recycleSplit = split
        for i in [0, 1, 2] { try await t.sync(i) }
        let outside = t.dirs.path + "/outside"
        try Data("elsewhere\n".utf8).write(to: URL(fileURLWithPath: outside))
        let root = t.dirs.path
        do {
            for path in paths {
                let file = t.spare + "/" + path
                if access(file, F_OK) != 0 { try Data("operator\n".utf8).write(to: URL(fileURLWithPath: file)) }
                try ProcessRunner.run("/bin/mount", ["--bind", outside, file])
            }
        } catch {
            unmountEverything(below: root)
            throw error
        }
        t.runner.checkpoint = { name in if name == "staged" { Self.unmountEverything(below: root) } }
        return t
    }
}

/// The carrier's walk shared out the same way (``UntrackedCarrier/split``).
extension StageRecyclerTests {
    /// The operator's files and directories at every depth, inside directories the workers carry and inside
    /// directories only the operator has (made anew around what is carried: `ops/` is handed out at depth 1, its
    /// parent being the root, and made by its worker; `ops/a` never is, its parent being made), and a carried
    /// directory's mode and extended attribute, all survive switches whose carry is split.
    @Test(arguments: splits)
    func aSplitCarryCarriesWhatTheOperatorHas(_ split: StageRecycler.Split) async throws {
        let t = try await Setup(mode: .hardlink)
        t.runner.recycleSplit = split
        try t.repo.write("deep/a/x.nix", "{ x = 1; }\n")
        try t.repo.write("deep/b/y.nix", "{ y = 1; }\n")
        t.commits.append(try t.repo.commit("D"))
        try await t.sync(3)
        let mine = ["mine.txt", "d1/mine.txt", "deep/a/mine.txt", "deep/b/own/mine.txt", "ops/a/b/mine.txt"]
        for path in mine {
            try FileManager.default.createDirectory(
                atPath: (t.target + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true
            )
            try Data("operator \(path)\n".utf8).write(to: URL(fileURLWithPath: t.target + "/" + path))
        }
        #expect(chmod(t.target + "/deep/b", 0o750) == 0)
        try ProcessRunner.run("/usr/bin/setfattr", ["-n", "user.operator", "-v", "kept", t.target + "/d2"])
        for i in [0, 1, 3, 2, 3] {
            try await t.sync(i)
            for path in mine {  // where the commit lacks `deep/`, made anew around what is carried
                #expect(
                    (try? String(contentsOfFile: t.target + "/" + path, encoding: .utf8)) == "operator \(path)\n",
                    "\(path) after commit \(i)")
            }
            var st = stat()
            #expect(lstat(t.target + "/d2", &st) == 0)
            let xattr = try ProcessRunner.run(
                "/usr/bin/getfattr", ["-n", "user.operator", "--only-values", t.target + "/d2"])
            #expect(xattr.stdoutString == "kept", "after commit \(i)")
            #expect(lstat(t.target + "/deep/b", &st) == 0 && st.st_mode & 0o7777 == 0o750, "after commit \(i)")
        }
    }
}
