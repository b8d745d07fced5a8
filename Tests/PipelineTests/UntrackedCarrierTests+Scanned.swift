import Foundation
import Glibc
import SmartSyncFileSystem
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The carrier given the scan's directories (``UntrackedCarrier/scanned``): a directory unchanged since the scan and
/// holding nothing to carry is not listed, and one that changed since (an operator's file made after the scan) or
/// was stamped in the scan's tick is.
extension UntrackedCarrierTests {
    /// A source tree (`a/`, `a/b/`, `c/`: tree files, an untracked file `a/b/u`, an operator's empty directory
    /// `c/empty`, `a` made `0750`) and a destination holding the new tree's files and directories. Returns the rules a
    /// plan would give (before `a/late`, which the callers make themselves).
    func makeTrees(_ source: String, _ destination: String) throws -> PathTable<UntrackedCarrier.Rule> {
        for root in [source, destination] {
            for d in ["", "/a", "/a/b", "/c"] { mkdir(root + d, 0o755) }
            for f in ["/a/t", "/a/b/t", "/c/t"] { try Data("tree\n".utf8).write(to: URL(fileURLWithPath: root + f)) }
        }
        try Data("operator\n".utf8).write(to: URL(fileURLWithPath: source + "/a/b/u"))
        mkdir(source + "/c/empty", 0o755)
        chmod(source + "/a", 0o750)
        return PathTable(sorting: [
            ("a/t", .treeFile), ("a/b/t", .treeFile), ("c/t", .treeFile), ("a/b/u", .carry),
        ] as [(TreePath, UntrackedCarrier.Rule)])
    }

    /// What every carry must do: the untracked file carried (same inode), the empty directory recreated, the listed
    /// and the passed-over directories given the source's mode.
    func expectCarried(_ source: String, _ destination: String) {
        #expect(Self.stat(destination, "a/b/u")?.st_ino == Self.stat(source, "a/b/u")?.st_ino)
        #expect(Self.stat(destination, "c/empty").map { ($0.st_mode & S_IFMT) == S_IFDIR } == true)
        #expect(Self.stat(destination, "a").map { $0.st_mode & 0o7777 } == 0o750)
    }

    /// Makes the trees in a new directory, `a/late` in the source unless `lateAfterScan` (then after the scan, a tick
    /// later than the scan's look at `a`), scans the source, and carries it with the scan's directories, the scan
    /// taken to have started at `startedAtNs` (given the scan's own start and the source: by default ten seconds
    /// after it, as if the tree had been made well before) for `plan`. Returns the directory; the caller removes it.
    func carryWithScan(
        lateAfterScan: Bool = false,
        startedAtNs: (_ scanStart: Int64, _ source: String) -> Int64 = { start, _ in start + 10_000_000_000 },
        plan: Plan = Self.plan
    ) throws -> (dir: TemporaryDirectory, source: String, destination: String, rules: PathTable<UntrackedCarrier.Rule>)
    {
        let dir = try TemporaryDirectory(prefix: "carrier-scanned")
        let (source, destination) = (dir["source"], dir["destination"])
        let rules = try makeTrees(source, destination)
        let late = URL(fileURLWithPath: source + "/a/late")
        if !lateAfterScan { try Data("late\n".utf8).write(to: late) }
        let scan = try TargetScanner().scan(target: source)
        if lateAfterScan {
            let before = Self.stat(source, "a").map { Timestamps.mtimeNs($0) }
            for _ in 0..<200 {
                try? FileManager.default.removeItem(at: late)
                try Data("late\n".utf8).write(to: late)
                if Self.stat(source, "a").map({ Timestamps.mtimeNs($0) }) != before { break }
                usleep(5_000)
            }
        }
        var carrier = UntrackedCarrier(rules: rules, unlisted: .carry)
        carrier.scanned = ScannedDirectories(scan.tree, startedAtNs: startedAtNs(scan.startedAtNs, source), plan: plan)
        try carrier.carry(from: source, into: destination)
        expectCarried(source, destination)
        return (dir, source, destination, rules)
    }

    /// The scan's word is taken for a directory unchanged since: a file the plan does not name in such a directory
    /// (`a/late`, made before the scan here so that `a` is as the scan saw it) is not seen, where a listing would
    /// carry it as unlisted. The directories holding something to carry are listed all the same.
    @Test func aDirectoryUnchangedSinceTheScanIsNotListed() throws {
        let (dir, source, destination, rules) = try carryWithScan()
        defer { dir.remove() }
        #expect(Self.stat(destination, "a/late") == nil, "the unchanged directory was listed")

        // Without the scan's directories: listed, and the unlisted file carried.
        let again = dir["again"]
        _ = try makeTrees(dir["unused"], again)
        try UntrackedCarrier(rules: rules, unlisted: .carry).carry(from: source, into: again)
        #expect(Self.stat(again, "a/late")?.st_ino == Self.stat(source, "a/late")?.st_ino)
    }

    /// An operator's file made in a directory after the scan moved that directory's mtime and ctime: the directory is
    /// listed, the file carried.
    @Test func aFileMadeAfterTheScanIsCarried() throws {
        let (dir, source, destination, _) = try carryWithScan(lateAfterScan: true)
        defer { dir.remove() }
        #expect(Self.stat(destination, "a/late")?.st_ino == Self.stat(source, "a/late")?.st_ino)
    }

    /// A directory stamped in the tick the scan started in may have had an entry made after the scan looked, with
    /// the same stamp: it is listed.
    @Test func aDirectoryStampedInTheScansTickIsListed() throws {
        let (dir, source, destination, _) = try carryWithScan(startedAtNs: { _, source in
            Self.stat(source, "a").map { Timestamps.mtimeNs($0) } ?? 0  // the scan taken to start at a's stamp
        })
        defer { dir.remove() }
        #expect(Self.stat(destination, "a/late")?.st_ino == Self.stat(source, "a/late")?.st_ino)
    }

    /// A plan with nothing in it (the tests give the carrier its rules themselves).
    static let plan = Plan(commit: ObjectID.blob([UInt8]()), changes: [], blobsNeeded: [])

    /// A submodule's checkout is not in the plan (the planner passes over it): a directory at or below its path is
    /// listed whatever its stat says, so what is inside is carried.
    @Test func aSubmodulesCheckoutIsListed() throws {
        let plan = Plan(
            commit: ObjectID.blob([UInt8]()),
            changes: [Change(kind: .submodule, path: "a", mode: .gitlink, id: ObjectID.blob([UInt8]()))],
            blobsNeeded: [])
        let (dir, source, destination, _) = try carryWithScan(plan: plan)
        defer { dir.remove() }
        #expect(Self.stat(destination, "a/late")?.st_ino == Self.stat(source, "a/late")?.st_ino)
    }
}

extension UntrackedCarrierTests {
    /// With the scan's real start (no offset), a file made right after the scan in a directory changed just before it
    /// is carried, on the file system under TMPDIR (run it with TMPDIR on ext4 with 128-byte inodes, whose stamps are
    /// whole seconds, as well as xfs, btrfs and tmpfs: the racy rule's granularity is what lists the directory there).
    @Test func aFileMadeInTheScansSecondIsCarried() throws {
        for _ in 0..<5 {
            let dir = try TemporaryDirectory(prefix: "carrier-scanned-second")
            defer { dir.remove() }
            let (source, destination) = (dir["source"], dir["destination"])
            let rules = try makeTrees(source, destination)
            try Data("x\n".utf8).write(to: URL(fileURLWithPath: source + "/c/x"))  // c changed just before the scan
            let scan = try TargetScanner().scan(target: source)
            try Data("late\n".utf8).write(to: URL(fileURLWithPath: source + "/c/late"))
            var carrier = UntrackedCarrier(rules: rules, unlisted: .carry)
            carrier.scanned = ScannedDirectories(scan.tree, startedAtNs: scan.startedAtNs, plan: Self.plan)
            try carrier.carry(from: source, into: destination)
            #expect(Self.stat(destination, "c/late") != nil, "c/late not carried: c taken as unchanged")
            usleep(300_000)  // another point in the second
        }
    }
}
