import Foundation
import Glibc
import TestSupport
import Testing

/// A commit `warm --pin` brought into the store syncs with the network down when it is named by its full id: the
/// pin holds the commit's verified listing, so neither the ref nor the tree needs a request (issue 14: a fleet warms
/// through a cache, then syncs in the maintenance window whatever the network does).
@Suite("Offline sync of a warmed commit")
struct OfflineWarmedSyncTests {
    /// Warmed by its id, the GitHub source's cache of immutable answers already served it offline; warmed as `main`
    /// and synced by id, the sync asked the API whether the commit exists (exit 5 offline) before the pin was used.
    @Test(arguments: ["sha", "main"])
    func pinnedCommitSyncsWithTheServerStopped(warmedAs: String) throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let b = try Fixtures.commitB(s.repo)
        let warmed = try s.run("warm", ["--ref", warmedAs == "sha" ? b : "main", "--pin"])
        #expect(warmed.status == 0, "\(warmed.stderrString)")
        s.server.stop()
        let r = try s.run("sync", ["--ref", b])
        #expect(r.status == 0, "sync of the pinned commit failed offline: \(r.stderrString)")
        try s.expectTargetEqualsArchive(b)
    }

    /// The commit checks of a move between pinned commits need no network either: `warm --pin` keeps each pinned
    /// commit's object and asks how the other pins stand to it, so with the server stopped a target at pin P1 moves to
    /// P2, a descendant, without --allow-downgrade (signature verified under --require-signed-commits), and is refused
    /// (exit 6) going back to P1. Before, the first move asked the compare API (exit 6 offline: "could not be
    /// checked") and the signature check asked for the commit object.
    @Test func movesBetweenPinsAreCheckedWithTheServerStopped() throws {
        let keys = try SignedCommitsEndToEndTests.Keys()
        let s = try Scenario()
        try s.repo.write("conf.nix", "{ release = 1; }\n")
        let p1 = try SignedCommitsEndToEndTests.commit(s.repo, "P1", signedWith: keys.known)
        try s.repo.git("tag", "v1")
        // A commit between the two: P1 is no parent of P2, so warm must ask how P1 stands to P2.
        try s.repo.write("notes.txt", "between\n")
        _ = try s.repo.commit("between")
        try s.repo.write("conf.nix", "{ release = 2; }\n")
        let p2 = try SignedCommitsEndToEndTests.commit(s.repo, "P2", signedWith: keys.known)
        let signed = ["--require-signed-commits", "--allowed-signers", keys.allowedSigners]
        let warmed = try s.run("warm", ["--ref", "v1", "--ref", "main", "--pin"])
        #expect(warmed.status == 0, "\(warmed.stderrString)")
        let listed = try SmartSyncBinary.run(
            ["pins", "--store", s.store, "--state-dir", s.stateDir, "--json"], environment: s.environment(),
            check: false)
        let pins = listed.stdoutString.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let main = try #require(pins.first { $0["name"] as? String == "main" }, "\(listed.stdoutString)")
        #expect(main["commitObject"] as? Bool == true && main["ancestryAnswers"] as? Int == 1, "\(main)")
        #expect(
            try s.apiRequests().contains { $0.path.contains("/compare/\(p1)...\(p2)") }, "warm asked the compare API")
        try s.sync(["--ref", p1] + signed)
        s.server.stop()

        let forward = try s.run("sync", ["--ref", p2, "--json", "-v"] + signed)
        #expect(forward.status == 0, "the move to the descendant pin failed offline: \(forward.stderrString)")
        try s.expectTargetEqualsArchive(p2)
        let checks = try Scenario.summary(forward)["commitChecks"] as? [String: Any]
        #expect(checks?["ancestry"] as? String == "descendant")
        #expect((checks?["signer"] as? [String: Any])?["principal"] as? String == "dev@example.com")
        #expect(forward.stderrString.contains("learned by warm --pin"), "\(forward.stderrString)")

        let back = try s.run("sync", ["--ref", p1])
        #expect(back.status == 6, "\(back.stderrString)")
        #expect(back.stderrString.contains("not a descendant"), "\(back.stderrString)")
        try s.expectTargetEqualsArchive(p2)
        // With leave to go back, only the signature is checked: from the pin, offline.
        let allowed = try s.run("sync", ["--ref", p1, "--allow-downgrade", "--json"] + signed)
        #expect(allowed.status == 0, "\(allowed.stderrString)")
        let allowedChecks = try Scenario.summary(allowed)["commitChecks"] as? [String: Any]
        #expect((allowedChecks?["signer"] as? [String: Any])?["principal"] as? String == "dev@example.com")
        try s.expectTargetEqualsArchive(p1)
    }

    /// The target's own commit counts too: a host synced (online) to X warms and pins main (two commits on), its source
    /// goes away, and it moves to main with no --allow-downgrade, because warm asked then how X stands to main.
    @Test func aTargetsCommitIsPlacedAgainstAPinWhenItIsWarmed() throws {
        let repo = try GitFixture()
        let dirs = try TemporaryDirectory(prefix: "offline-pin")
        try repo.write("conf.nix", "x\n")
        let x = try repo.commit("X")
        try repo.write("notes.txt", "between\n")
        _ = try repo.commit("between")
        try repo.write("conf.nix", "main\n")
        let main = try repo.commit("main")
        let wanted = try repo.archiveSnapshot(commit: main)
        let source = dirs.appending("source")
        try ProcessRunner.run("/bin/cp", ["-a", repo.path, source])
        func run(_ command: String, _ args: [String]) throws -> ProcessResult {
            var all = [
                command, "--source", source, "--store", dirs.appending("store"), "--state-dir", dirs.appending("state"),
            ]
            if command != "warm" { all += ["--target", dirs.appending("target")] }
            return try SmartSyncBinary.run(all + args, environment: ["HOME": dirs.path, "NO_COLOR": "1"], check: false)
        }
        #expect(try run("sync", ["--ref", x]).status == 0)
        let warmed = try run("warm", ["--ref", "main", "--pin"])
        #expect(warmed.status == 0, "\(warmed.stderrString)")
        // The source is gone: an empty directory where the repository was.
        try ProcessRunner.run("/bin/rm", ["-rf", source])
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: false)
        let moved = try run("sync", ["--ref", main, "--json"])
        #expect(moved.status == 0, "\(moved.stderrString)")
        #expect((try Scenario.summary(moved)["commitChecks"] as? [String: Any])?["ancestry"] as? String == "descendant")
        #expect(try DirectorySnapshot(of: dirs.appending("target")) == wanted)
    }

    /// The fleet's way (a signed mirror behind a cache, `--trusted-key`, never the origin): a host at A warms main
    /// again once it is B (a commit between them), the mirror's commits answering how A stands to B; with the servers
    /// stopped it moves to B without --allow-downgrade.
    @Test(.enabled(if: Fleet.missing == nil, "\(Fleet.missing ?? "")"))
    func aFleetHostMovesToItsNewPinWithTheMirrorDown() throws {
        let fleet = try Fleet(hosts: 1)
        _ = try Fixtures.commitA(fleet.repo)
        try fleet.publish()
        let publishedA = Int(Date().timeIntervalSince1970)
        try fleet.startServers()
        for (command, extra) in [("warm", ["--ref", "main", "--pin"]), ("sync", ["--ref", "main"])] {
            let run = try #require(try fleet.runAll(command, mirrors: [fleet.cacheURL], extra).first)
            try #require(run.termination.succeeded, "\(command): \(run)")
        }
        try fleet.repo.write("notes.txt", "between\n")
        _ = try fleet.repo.commit("between")
        let b = try Fixtures.commitB(fleet.repo)
        // Hosts refuse another pointer of the second they accepted one from as a replay: publish in a later one.
        while Int(Date().timeIntervalSince1970) <= publishedA { usleep(50_000) }
        try fleet.publish()
        let warmed = try #require(
            try fleet.runAll("warm", mirrors: [fleet.cacheURL], ["--ref", "main", "--pin", "-v"]).first)
        try #require(warmed.termination.succeeded, "\(warmed)")
        #expect(warmed.stderr.contains("1 ancestry answers"), "\(warmed.stderr.suffix(2000))")
        fleet.stopServers()
        let moved = try #require(try fleet.runAll("sync", mirrors: [fleet.cacheURL], ["--ref", b]).first)
        #expect(moved.termination.succeeded, "\(moved)")
        #expect(moved.stdout.contains("\"ancestry\":\"descendant\""), "\(moved.stdout.suffix(1500))")
        #expect(try DirectorySnapshot(of: fleet.host(0) + "/target") == fleet.repo.archiveSnapshot(commit: b))
    }
}
