import Foundation
import Glibc
import TestSupport
import Testing

/// Real failures after the directory exchange: `sync` reports the switch (exit 8, `switched` in the JSON) with the
/// state recording the new commit, and `update` treats the target as switched and rolls it back.
@Suite("failures after the switch", .serialized)
struct AfterSwitchEndToEndTests {
    /// The JSON events of a run named `event`.
    private func events(_ r: ProcessResult, _ event: String) -> [[String: Any]] {
        r.stdoutString.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["event"] as? String == event }
    }

    /// Commit C from B: bridge.nix changes again.
    private func commitC(_ s: Scenario) throws -> String {
        try s.repo.write("modules/net/bridge.nix", "{ bridge = \"br0\"; }\n")
        return try s.repo.commit("C")
    }

    /// Commit D from C: bridge.nix changes once more.
    private func commitD(_ s: Scenario) throws -> String {
        try s.repo.write("modules/net/bridge.nix", "{ bridge = \"br1\"; }\n")
        return try s.repo.commit("D")
    }

    @Test func aSyncWhosePruneFailsSaysTheTargetWasSwitched() throws {
        let s = try Scenario()
        defer { PinnedDirectory.unpinAll(under: s.dirs.path) }
        _ = try Fixtures.commitA(s.repo)
        try s.sync(["--keep-generations", "2"])
        _ = try Fixtures.commitB(s.repo)
        try s.sync(["--keep-generations", "2"])
        let before = try commitC(s)
        try s.sync(["--keep-generations", "2"])
        // With one generation kept when D comes in, generation 2 (B's tree) becomes the spare and generation 1 (A's)
        // goes; a mount point in it cannot be removed, even by root.
        try PinnedDirectory.pin(s.dirs.appending(".target.smart-sync/generations/1/tree/pinned"))
        let after = try commitD(s)

        let r = try s.run("sync", ["--keep-generations", "1", "--json"])
        #expect(r.status == 8, "\(r.stderrString)")
        #expect(r.stderrString.contains("was switched to \(after) (from \(before))"), "\(r.stderrString)")
        #expect(r.stderrString.contains("removing old generations failed afterwards"))
        let summary = try Scenario.summary(r)
        #expect(summary["switched"] as? Bool == true)
        #expect(summary["failedAfterSwitch"] as? String == "removing old generations")
        #expect(summary["commit"] as? String == after)
        #expect(events(r, "error").first?["switched"] as? Bool == true)
        try s.expectTargetEqualsArchive(after)
        // The state records C: nothing is pending.
        #expect(try s.run("plan").status == 0)

        PinnedDirectory.unpinAll(under: s.dirs.path)
        let again = try s.run("sync", ["--keep-generations", "1", "--json"])
        #expect(again.status == 0, "\(again.stderrString)")
        #expect(try Scenario.summary(again)["switched"] as? Bool == false)
    }

    /// The state is recorded by renaming the intent over it, which takes no room (and frees the old state's): a disk
    /// that is full once the intent is written no longer keeps the state from being recorded, as it did when the
    /// state was written anew after the exchange ("recording the new state failed afterwards", the state still at A).
    /// What comes after may still find no room (the stat cache: exit 8, saying so); the state names B either way. (A
    /// failure to record the state is made by a checkpoint: `AfterSwitchTests`.)
    @Test func aSyncWhoseDiskIsFullAfterTheIntentRecordsItsState() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        let b = try Fixtures.commitB(s.repo)
        // The target's state directory on a tmpfs with room for the intent and nothing more.
        let targets = s.stateDir + "/targets"
        let key = try #require(try FileManager.default.contentsOfDirectory(atPath: targets).first)
        let dir = targets + "/" + key
        let saved = s.dirs.appending("saved-state")
        try ProcessRunner.run("/bin/cp", ["-a", dir, saved])
        let mount = try TmpfsMount(at: dir, size: "64k")
        defer { withExtendedLifetime(s) { mount.unmount() } }
        try ProcessRunner.run("/bin/sh", ["-c", "cp -a '\(saved)'/. '\(dir)'/"])
        var fs = statvfs()
        try #require(statvfs(dir, &fs) == 0)
        let filler = dir + "/filler"
        try Data(count: (Int(fs.f_bavail) - 1) * Int(fs.f_bsize)).write(to: URL(fileURLWithPath: filler))
        try #require(statvfs(dir, &fs) == 0 && fs.f_bavail == 1, "one free block expected, \(fs.f_bavail) free")

        let r = try s.run("sync", ["--json"])
        #expect(r.status == 0 || r.status == 8, "\(r.stderrString)")
        #expect(!r.stderrString.contains("recording the new state failed"), "\(r.stderrString)")
        if r.status == 8 {
            #expect(r.stderrString.contains("The target and its state are at \(b)"), "\(r.stderrString)")
        }
        try s.expectTargetEqualsArchive(b)

        // With room again, the next run finds B applied: it does not switch again.
        try FileManager.default.removeItem(atPath: filler)
        let again = try s.run("sync", ["--json"])
        #expect(again.status == 0, "\(again.stderrString)")
        #expect(try Scenario.summary(again)["switched"] as? Bool == false)
        #expect(try s.run("plan").status == 0)
        let list = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--list", "--json"], environment: s.environment())
        let generations = events(list, "generation")
        #expect(generations.map { $0["commit"] as? String } == [a], "one generation, A's: \(list.stdoutString)")
        let tree = try #require(generations.first?["tree"] as? String)
        #expect(try DirectorySnapshot(of: tree) == s.archiveSnapshot(a))
    }

    @Test func anUpdateWhoseSyncFailsAfterTheExchangeRollsBack() throws {
        let t = try UpdateSetup()
        defer { PinnedDirectory.unpinAll(under: t.s.dirs.path) }
        try t.s.sync(["--keep-generations", "2"])
        let before = try commitC(t.s)
        try t.s.sync(["--keep-generations", "2"])
        // Generations 1 (A's tree) and 2 (B's): with one kept, 2 becomes the spare and 1 cannot go.
        try PinnedDirectory.pin(t.sidecar + "/generations/1/tree/pinned")
        let after = try commitD(t.s)

        let r = try t.update(["--keep-generations", "1", "--json"])
        #expect(r.status == 1, "\(r.stderrString)")
        try t.s.expectTargetEqualsArchive(before)
        #expect(r.stderrString.contains("update failed at sync"), "\(r.stderrString)")
        #expect(r.stderrString.contains("was switched to \(after)"))
        #expect(r.stderrString.contains("rolled back to \(before)"))
        #expect(t.runs().isEmpty, "D was never rebuilt, so C is not rebuilt either")
        let summary = try Scenario.summary(r)
        #expect(summary["switched"] as? Bool == true)
        #expect(summary["rolledBack"] as? Bool == true)
        #expect(summary["commitAfter"] as? String == before)
        let steps = (summary["steps"] as? [[String: Any]] ?? []).map { "\($0["step"]!)=\($0["status"]!)" }
        // The rollback's own pruning meets the same mount point: done, with a warning. No check is configured (no
        // `validate-stage` step: nothing runs on the stage).
        #expect(steps == ["pre-validate=ok", "sync=failed", "rollback=warn"], "\(steps)")
        #expect(try t.s.run("plan").status == 3, "the state follows the rollback: D is pending again")

        PinnedDirectory.unpinAll(under: t.s.dirs.path)
        let again = try t.update(["--keep-generations", "1"])
        #expect(again.status == 0, "\(again.stderrString)")
        try t.s.expectTargetEqualsArchive(after)
        #expect(t.runs().count == 1)
    }
}
