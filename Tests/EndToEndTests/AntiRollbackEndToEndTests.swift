import Foundation
import TestSupport
import Testing

/// Anti-rollback: a run never moves a target to a commit that is not a descendant of the one its state records,
/// unless `--allow-downgrade`; `rollback` stays the way back. On every path: local, raw, pack, the clone fallback.
@Suite("anti-rollback: --allow-downgrade", .serialized)
struct AntiRollbackEndToEndTests {
    private func history(_ repo: GitFixture) throws -> (a: String, b: String, c: String) {
        try Fixtures.diverging(repo)
    }

    private func expectRefused(
        _ r: ProcessResult, from: String, to: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(r.status == 6, "\(r.stderrString)", sourceLocation: sourceLocation)
        #expect(
            r.stderrString.contains(from) && r.stderrString.contains(to), "\(r.stderrString)",
            sourceLocation: sourceLocation)
        #expect(r.stderrString.contains("--allow-downgrade"), "\(r.stderrString)", sourceLocation: sourceLocation)
    }

    @Test func localSourceRefusesANonDescendantAndAllowDowngradeAndRollbackStillWork() throws {
        let repo = try GitFixture()
        let (a, b, c) = try history(repo)
        let dirs = try TemporaryDirectory(prefix: "anti-rollback")
        let target = dirs.appending("target")
        func run(_ command: String, _ args: [String]) throws -> ProcessResult {
            try SmartSyncBinary.run(
                [command, "--source", repo.path, "--target", target, "--store", dirs.appending("store"),
                 "--state-dir", dirs.appending("state")] + args,
                environment: ["HOME": dirs.path, "NO_COLOR": "1"], check: false)
        }
        #expect(try run("sync", ["--ref", a]).status == 0)
        #expect(try run("sync", ["--ref", b]).status == 0, "a descendant moves on")
        let atB = try DirectorySnapshot(of: target)
        for (ref, why) in [(a, "an ancestor"), (c, "a diverged branch")] {
            expectRefused(try run("sync", ["--ref", ref]), from: b, to: ref)
            expectRefused(try run("plan", ["--ref", ref]), from: b, to: ref)
            #expect(try DirectorySnapshot(of: target) == atB, "\(why): the target is untouched")
        }
        // The same commit, and a sync with --allow-downgrade, pass.
        #expect(try run("sync", ["--ref", b]).status == 0)
        let allowed = try run("sync", ["--ref", c, "--allow-downgrade", "--json"])
        #expect(allowed.status == 0, "\(allowed.stderrString)")
        #expect(try DirectorySnapshot(of: target) == repo.archiveSnapshot(commit: c))
        let checks = try Scenario.summary(allowed)["commitChecks"] as? [String: Any]
        #expect(checks?["ancestry"] as? String == "allowed")
        // rollback goes back to B's tree without leave; then a descendant of B (the state's commit) syncs again.
        let back = try SmartSyncBinary.run(
            [
                "rollback", "--target", target, "--store", dirs.appending("store"), "--state-dir",
                dirs.appending("state"),
            ],
            environment: ["HOME": dirs.path], check: false)
        #expect(back.status == 0, "\(back.stderrString)")
        #expect(try DirectorySnapshot(of: target) == atB)
        try repo.write("later.txt", "after B\n")
        let d = try repo.commit("D")
        let forward = try run("sync", ["--ref", d, "--json"])
        #expect(forward.status == 0, "\(forward.stderrString)")
        #expect(
            (try Scenario.summary(forward)["commitChecks"] as? [String: Any])?["ancestry"] as? String == "descendant")
    }

    @Test(arguments: ["raw", "auto"])
    func githubPathsAskTheCompareAPIAndRefuseADowngrade(transport: String) throws {
        let s = try Scenario()
        let (a, b, c) = try history(s.repo)
        try s.sync(["--transport", transport, "--ref", a])
        try s.server.clearLog()
        let forward = try s.sync(["--transport", transport, "--ref", b])
        #expect((forward["commitChecks"] as? [String: Any])?["ancestry"] as? String == "descendant")
        let compares = try s.apiRequests().filter { $0.path.contains("/compare/\(a)...\(b)") }
        let paths = try s.apiRequests().map(\.path)
        #expect(compares.count == 1, "\(paths)")
        for ref in [a, c] {
            expectRefused(try s.run("sync", ["--transport", transport, "--ref", ref]), from: b, to: ref)
            try s.expectTargetEqualsArchive(b)
        }
        try s.sync(["--transport", transport, "--ref", c, "--allow-downgrade"])
        try s.expectTargetEqualsArchive(c)
    }

    @Test func thePackTransportAloneWalksTheCommitsOfTheHistory() throws {
        let s = try Scenario()
        let (a, b, c) = try history(s.repo)
        try s.sync(["--transport", "pack", "--ref", a])
        let forward = try s.sync(["--transport", "pack", "--ref", b])
        #expect((forward["commitChecks"] as? [String: Any])?["ancestry"] as? String == "descendant")
        #expect(try s.apiRequests().isEmpty, "the git host alone answered")
        let object = { (id: String) in s.store + "/objects/" + id.prefix(2) + "/" + id.dropFirst(2) }
        for ref in [a, c] {
            expectRefused(try s.run("sync", ["--transport", "pack", "--ref", ref]), from: b, to: ref)
            try s.expectTargetEqualsArchive(b)
            // The listing's pack, asked with the ancestry question and held, is dropped with the refusal.
            #expect(try FileManager.default.contentsOfDirectory(atPath: s.store + "/tmp") == [])
        }
        #expect(!FileManager.default.fileExists(atPath: object(c)), "the refused commit reached the store")
        try s.sync(["--transport", "pack", "--ref", a, "--allow-downgrade"])
        try s.expectTargetEqualsArchive(a)
    }

    /// The history's commits answer from the store's `tmp/` and are dropped there: none is published into the store
    /// (so the answer costs no sync), the listing's pack brings the wanted commit, and nothing is left in `tmp/`.
    @Test func thePackTransportHoldsTheHistoryItWalksOutOfTheStore() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.repo.write("between.txt", "x\n")
        let x = try s.repo.commit("X")
        try s.repo.write("between.txt", "y\n")
        let y = try s.repo.commit("Y")
        try s.sync(["--transport", "pack", "--ref", a])
        let forward = try s.sync(["--transport", "pack", "--ref", y])
        #expect((forward["commitChecks"] as? [String: Any])?["ancestry"] as? String == "descendant")
        try s.expectTargetEqualsArchive(y)
        let object = { (id: String) in s.store + "/objects/" + id.prefix(2) + "/" + id.dropFirst(2) }
        #expect(!FileManager.default.fileExists(atPath: object(x)), "a commit of the walked history was published")
        #expect(FileManager.default.fileExists(atPath: object(y)), "the listing's pack did not bring the commit")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.store + "/tmp") == [])
    }

    @Test func theCloneFallbackDeepensItsHistoryToTell() throws {
        let s = try Scenario()
        let (a, b, c) = try history(s.repo)
        try s.sync(["--force-full", "--ref", a])
        try s.sync(["--force-full", "--ref", b])
        try s.expectTargetEqualsArchive(b)
        expectRefused(try s.run("sync", ["--force-full", "--ref", c]), from: b, to: c)
        try s.expectTargetEqualsArchive(b)
    }

    @Test func updateRefusesWithExitSixBeforeAnyStep() throws {
        let s = try Scenario()
        let (a, b, _) = try history(s.repo)
        try s.sync(["--ref", b])
        let r = try s.run("update", ["--ref", a, "--force", "--skip-rebuild", "--root", s.dirs.appending("root")])
        expectRefused(r, from: b, to: a)
        try s.expectTargetEqualsArchive(b)
    }

    @Test func configAllowDowngradeLetsATargetGoBack() throws {
        let s = try Scenario()
        let (a, b, _) = try history(s.repo)
        try s.sync(["--ref", b])
        let config = s.dirs.appending("config.toml")
        try TestFiles.write(config, "[sync]\nallow_downgrade = true\n")
        let r = try s.run("sync", ["--ref", a, "--config", config])
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
    }
}
