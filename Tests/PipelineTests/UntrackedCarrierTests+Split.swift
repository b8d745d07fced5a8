import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The carrier's walk shared out over threads (``UntrackedCarrier/split``), forced on a small tree: what the operator
/// does to the source while the calling thread hands directories out, and which error a failing carry reports, are as
/// on one thread.
extension UntrackedCarrierTests {
    /// One thread, handing out the root's directories, or those one level down.
    static let carrySplits: [StageRecycler.Split?] = [nil] + StageRecyclerTests.splits

    /// `deep/a` and `deep/b` (both trees have them) hold an operator's file each; once the calling thread has read
    /// `deep`, the operator renames it away (`gone`) or also puts a symlink in its place (`symlink`). One thread goes
    /// on with the directory it holds open and carries both files; the workers walking `deep/a` and `deep/b` must too
    /// (they reopened `deep` by its path: the carry failed with ENOENT or ELOOP, found by review).
    @Test(arguments: ["gone", "symlink"], carrySplits)
    func aDirectorySwappedAfterTheCallingThreadReadItIsCarriedAsOneThreadWould(
        _ swap: String, _ split: StageRecycler.Split?
    ) throws {
        let dir = try TemporaryDirectory(prefix: "carrier")
        defer { dir.remove() }
        let (source, destination) = (dir["source"], dir["destination"])
        for root in [source, destination] {
            for d in ["", "/deep", "/deep/a", "/deep/b", "/z"] { mkdir(root + d, 0o755) }
            for f in ["/deep/a/t", "/deep/b/t", "/z/t"] {
                try Data("tree\n".utf8).write(to: URL(fileURLWithPath: root + f))
            }
        }
        for f in ["/deep/a/mine", "/deep/b/mine", "/z/mine"] {
            try Data("operator\n".utf8).write(to: URL(fileURLWithPath: source + f))
        }
        let rules: [(TreePath, Rule)] = [("deep/a/t", .treeFile), ("deep/b/t", .treeFile), ("z/t", .treeFile)]
        var carrier = UntrackedCarrier(rules: PathTable(sorting: rules))
        carrier.split = split
        var swapped = false
        carrier.afterReading = { directory in
            guard directory == "deep" else { return }  // read on the calling thread (the workers start below it)
            swapped = rename(source + "/deep", source + "/moved") == 0
            if swap == "symlink" { symlink("moved", source + "/deep") }
        }
        try carrier.carry(from: source, into: destination)
        #expect(swapped)
        for (from, to) in [("moved/a/mine", "deep/a/mine"), ("moved/b/mine", "deep/b/mine"), ("z/mine", "z/mine")]
            as [(TreePath, TreePath)]
        {
            let carried = Self.stat(destination, to)
            #expect(carried != nil && carried?.st_ino == Self.stat(source, from)?.st_ino, "\(to) was not carried")
        }
    }

    /// Two operator's files that cannot be carried (each a file bind-mounted in the source: `linkat` across mounts
    /// is EXDEV): `d0/x` in a directory a worker carries and `zz` at the root, which the calling thread reaches after
    /// handing `d0` out. One thread fails at `d0/x`, the first in path order; so must the split carry (the calling
    /// thread's later error was thrown before the workers ran, found by review).
    @Test(arguments: carrySplits)
    func aSplitCarryReportsTheFirstErrorInPathOrder(_ split: StageRecycler.Split?) throws {
        guard geteuid() == 0 else {
            print("skipped on this machine: mount --bind needs root")
            return
        }
        let dir = try TemporaryDirectory(prefix: "carrier")
        defer { dir.remove() }
        let (source, destination) = (dir["source"], dir["destination"])
        for root in [source, destination] {
            for d in ["", "/d0", "/d1"] { mkdir(root + d, 0o755) }
            for f in ["/d0/t", "/d1/t"] { try Data("tree\n".utf8).write(to: URL(fileURLWithPath: root + f)) }
        }
        let outside = dir["outside"]
        try Data("elsewhere\n".utf8).write(to: URL(fileURLWithPath: outside))
        for f in ["/d0/x", "/d1/y", "/zz"] { try Data("operator\n".utf8).write(to: URL(fileURLWithPath: source + f)) }
        defer { StageRecyclerTests.unmountEverything(below: dir.path) }
        for f in ["/d0/x", "/zz"] { try ProcessRunner.run("/bin/mount", ["--bind", outside, source + f]) }
        var carrier = UntrackedCarrier(rules: PathTable(sorting: [("d0/t", .treeFile), ("d1/t", .treeFile)]))
        carrier.split = split
        do {
            try carrier.carry(from: source, into: destination)
            Issue.record("carried across a mount")
        } catch let error as SmartSyncError {
            #expect(error.code == .io)
            #expect(error.message.contains(destination + "/d0/x"), "\(error.message)")
        }
    }
}
