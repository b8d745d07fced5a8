import Foundation
import TestSupport
import Testing

/// Fidelity for a run by a user other than root: directories the operator made read-only.
extension FidelityEndToEndTests {
    /// Run by a user other than root, an update places files in a directory the operator made read-only: the stage's
    /// directory takes the target's mode before the placing, and must still let its owner make entries (the exact
    /// mode comes after). Both ways of staging. (The update keeps the default three generations: pruning one that
    /// holds that directory is the next test's.)
    @Test(arguments: [false, true])
    func anUnprivilegedUpdateFillsADirectoryTheOperatorMadeReadOnly(recycled: Bool) throws {
        let repo = try GitFixture()
        let dirs = try TemporaryDirectory(prefix: "unprivileged")
        defer { dirs.remove() }
        try repo.write("ro/a", "a\n")
        var commits = [try repo.commit("0")]
        let fixture = (repo.path as NSString).deletingLastPathComponent  // private to root, as made
        let target = dirs.appending("target")
        func sync(_ commit: String) throws {
            let r = try ProcessRunner.run(
                "/usr/bin/setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", try SmartSyncBinary.path(), "sync", "--source",
                 repo.path, "--ref", commit, "--target", target, "--store", dirs.appending("store"), "--state-dir",
                 dirs.appending("state")],
                environment: ["HOME": dirs.path, "NO_COLOR": "1"], check: false)
            try #require(r.status == 0, "sync as nobody: \(r.stderrString)")
        }
        for round in 1...4 {
            try repo.write("other", "\(round)\n")
            commits.append(try repo.commit("\(round)"))
        }
        _ = try run("/bin/chown", ["-R", "65534:65534", dirs.path, fixture])
        // From the store: the update is the second switch (the first recycled the cold sync's spare; no generation is
        // pruned into a spare before the fifth). Recycled: the fifth.
        for commit in recycled ? commits : Array(commits.prefix(2)) { try sync(commit) }
        _ = try run("/bin/chmod", ["555", target + "/ro"])
        try repo.write("ro/b", "b\n")
        let last = try repo.commit("adds ro/b")
        _ = try run("/bin/chown", ["-R", "65534:65534", fixture])
        try sync(last)
        #expect(read(target + "/ro", Array("b".utf8)) == "b\n")
        #expect(try run("/usr/bin/stat", ["-c", "%a", target + "/ro"]) == "555\n")
    }

    /// Run by a user other than root, pruning a generation that holds directories the operator made read-only removes
    /// it: the prune gives their owner the write bit back, by descriptor, before emptying each.
    /// With `--keep-generations 0` the outgoing tree is pruned by the very sync that switches it out.
    @Test func anUnprivilegedPruneRemovesAGenerationHoldingAReadOnlyDirectory() throws {
        let repo = try GitFixture()
        let dirs = try TemporaryDirectory(prefix: "unprivileged-prune")
        defer { dirs.remove() }
        try repo.write("ro/a", "a\n")
        try repo.write("ro/deep/b", "b\n")
        let first = try repo.commit("0")
        try repo.write("other", "1\n")
        let second = try repo.commit("1")
        let fixture = (repo.path as NSString).deletingLastPathComponent  // private to root, as made
        let target = dirs.appending("target")
        func sync(_ commit: String) throws -> ProcessResult {
            try ProcessRunner.run(
                "/usr/bin/setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", try SmartSyncBinary.path(), "sync", "--source",
                 repo.path, "--ref", commit, "--target", target, "--store", dirs.appending("store"), "--state-dir",
                 dirs.appending("state"), "--keep-generations", "0"],
                environment: ["HOME": dirs.path, "NO_COLOR": "1"], check: false)
        }
        _ = try run("/bin/chown", ["-R", "65534:65534", dirs.path, fixture])
        let r0 = try sync(first)
        try #require(r0.status == 0, "sync as nobody: \(r0.stderrString)")
        _ = try run("/bin/chmod", ["555", target + "/ro"])
        _ = try run("/bin/chmod", ["555", target + "/ro/deep"])
        let r1 = try sync(second)
        #expect(r1.status == 0, "the prune of the outgoing tree failed: \(r1.stderrString)")
        let generations = dirs.appending(".target.smart-sync/generations")
        #expect(try FileManager.default.contentsOfDirectory(atPath: generations) == [], "nothing beyond the target")
        #expect(try run("/usr/bin/stat", ["-c", "%a", target + "/ro", target + "/ro/deep"]) == "555\n555\n")
    }
}
