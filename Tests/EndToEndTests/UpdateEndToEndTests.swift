import Foundation
import TestSupport
import Testing

/// `smart-sync update` through the binary: rebuild commands that succeed and fail, validation before the switch
/// and after it, rollback, `--check-only`, `--skip-rebuild`.
@Suite("update", .serialized)
struct UpdateEndToEndTests {
    @Test func aSucceedingRebuildRunsOnceForTheNewTree() throws {
        let t = try UpdateSetup(checks: "[[check]]\nkind = \"file\"\npath = \"flake.nix\"\n")
        let r = try t.update(["--rebuild-action", "test", "--json"])
        #expect(r.status == 0, "\(r.stderrString)\n\(r.stdoutString)")
        try t.s.expectTargetEqualsArchive(t.b)
        let runs = t.runs()
        #expect(runs == ["action=test target=\(t.s.target) host=hv1 rollback=0 hash=\(try t.archiveHash(t.b))"])
        let summary = try Scenario.summary(r)
        #expect(summary["command"] as? String == "update")
        #expect(summary["switched"] as? Bool == true)
        #expect(summary["rolledBack"] as? Bool == false)
        #expect(summary["commitBefore"] as? String == t.a)
        #expect(summary["commitAfter"] as? String == t.b)
        let steps = (summary["steps"] as? [[String: Any]] ?? []).map { "\($0["step"]!)=\($0["status"]!)" }
        #expect(
            steps == ["pre-validate=ok", "validate-stage=ok", "sync=ok", "rebuild=ok", "post-validate=ok"],
            "\(steps)")
        // The command's output is captured into events with --json.
        #expect(r.stdoutString.contains(#""line":"rebuilding hv1""#))
    }

    @Test func aFailingRebuildRollsBackAndRebuildsTheOldTree() throws {
        let t = try UpdateSetup()
        let r = try t.update(["--json"], env: "FAIL_ON=enp3s0")
        #expect(r.status == 1, "\(r.stderrString)")
        try t.s.expectTargetEqualsArchive(t.a)
        let runs = t.runs()
        #expect(runs.count == 2, "\(runs)")
        #expect(runs.first == "action=switch target=\(t.s.target) host=hv1 rollback=0 hash=\(try t.archiveHash(t.b))")
        #expect(runs.last == "action=switch target=\(t.s.target) host=hv1 rollback=1 hash=\(try t.archiveHash(t.a))")
        #expect(r.stderrString.contains("update failed at rebuild"), "\(r.stderrString)")
        #expect(r.stderrString.contains("exited with status 1"))
        #expect(r.stderrString.contains("the build of hv1 failed"), "the last output line is quoted")
        #expect(r.stderrString.contains("rolled back to \(t.a)"))
        #expect(r.stderrString.contains("ran again for it successfully"))
        let summary = try Scenario.summary(r)
        #expect(summary["rolledBack"] as? Bool == true)
        #expect(summary["commitAfter"] as? String == t.a)
        // The state follows: a plan now sees B as pending again.
        #expect(try t.s.run("plan").status == 3)
    }

    @Test func aBuildOnlyRebuildIsNotRunAgainAfterTheRollback() throws {
        let t = try UpdateSetup()
        let r = try t.update(["--rebuild-action", "build"], env: "FAIL_ON=enp3s0")
        #expect(r.status == 1)
        try t.s.expectTargetEqualsArchive(t.a)
        #expect(t.runs().count == 1)
        #expect(r.stderrString.contains("not run again"), "\(r.stderrString)")
    }

    @Test func aFailedPostValidationRollsBack() throws {
        // The rebuild of B deletes a host file a check requires: only the post-validation can see it.
        let t = try UpdateSetup(checks: "[[check]]\nkind = \"file\"\npath = \"/etc/marker\"\n")
        let marker = t.root + "/etc/marker"
        _ = FileManager.default.createFile(atPath: marker, contents: Data())
        let r = try t.update([], env: "MARKER=\(marker)")
        #expect(r.status == 1, "\(r.stderrString)")
        try t.s.expectTargetEqualsArchive(t.a)
        #expect(r.stderrString.contains("update failed at post-validate"), "\(r.stderrString)")
        #expect(r.stderrString.contains("/etc/marker"))
        #expect(r.stderrString.contains("rolled back to \(t.a)"))
        // The old tree's rebuild put the host back.
        #expect(t.runs().count == 2)
        #expect(FileManager.default.fileExists(atPath: marker))
    }

    @Test func aFailingStagedTreeIsNeverSwitchedIn() throws {
        // B deletes scripts/old.sh, which this config requires.
        let t = try UpdateSetup(checks: "[[check]]\nkind = \"file\"\npath = \"scripts/old.sh\"\n")
        let before = try FileManager.default.attributesOfItem(atPath: t.s.target)[.systemFileNumber] as? Int
        let r = try t.update(["--json"])
        #expect(r.status == 1, "\(r.stderrString)")
        try t.s.expectTargetEqualsArchive(t.a)
        #expect(try FileManager.default.attributesOfItem(atPath: t.s.target)[.systemFileNumber] as? Int == before)
        #expect(!FileManager.default.fileExists(atPath: t.sidecar + "/stage"))
        #expect(t.runs().isEmpty)
        #expect(r.stderrString.contains("before the switch"), "\(r.stderrString)")
        #expect(r.stderrString.contains("scripts/old.sh"))
        let summary = try Scenario.summary(r)
        #expect(summary["switched"] as? Bool == false)
        #expect(try t.s.run("plan").status == 3, "the state still records A")
    }

    @Test func checkOnlyChangesNothingAndSkipRebuildNeverRunsTheCommand() throws {
        let t = try UpdateSetup()
        let check = try t.update(["--check-only"])
        #expect(check.status == 3, "\(check.stderrString)")
        try t.s.expectTargetEqualsArchive(t.a)
        #expect(t.runs().isEmpty)

        let skip = try t.update(["--skip-rebuild"])
        #expect(skip.status == 0, "\(skip.stderrString)")
        try t.s.expectTargetEqualsArchive(t.b)
        #expect(t.runs().isEmpty)

        // Up to date: --check-only exits 0, and an update does not rebuild unless --rebuild-always.
        #expect(try t.update(["--check-only"]).status == 0)
        #expect(try t.update([]).status == 0)
        #expect(t.runs().isEmpty)
        #expect(try t.update(["--rebuild-always"]).status == 0)
        #expect(t.runs().count == 1)
    }

    @Test func aFailingPreValidationStopsUnlessForced() throws {
        let t = try UpdateSetup(checks: "[[check]]\nkind = \"file\"\npath = \"site.nix\"\n")
        let r = try t.update([])
        #expect(r.status == 1)
        #expect(r.stderrString.contains("before the update"), "\(r.stderrString)")
        try t.s.expectTargetEqualsArchive(t.a)
        // Forced: the same failure later is not held against the new tree.
        let forced = try t.update(["--force"])
        #expect(forced.status == 0, "\(forced.stderrString)")
        try t.s.expectTargetEqualsArchive(t.b)
        #expect(t.runs().count == 1)
    }

    @Test func theRebuildCommandGetsNoTokenVariables() throws {
        let t = try UpdateSetup()
        let printed = t.s.dirs.appending("rebuild.env")
        let tokens = [
            "GH_TOKEN": "ghp_one", "GITHUB_TOKEN": "ghp_two", "GH_ENTERPRISE_TOKEN": "ghp_three",
            "GITHUB_ENTERPRISE_TOKEN": "ghp_four", "GITHUB_PAT": "ghp_five",
        ]
        let r = try t.s.run(
            "update",
            ["--config", t.config, "--root", t.root, "--hostname", "hv1", "--rebuild-command", "env > \(printed)"],
            environment: tokens.mapValues { $0 }.merging(["KEEP_ME": "kept"]) { $1 })
        #expect(r.status == 0, "\(r.stderrString)")
        try t.s.expectTargetEqualsArchive(t.b)
        let environment = try String(contentsOfFile: printed, encoding: .utf8)
        for (name, value) in tokens {
            #expect(!environment.contains(name + "=") && !environment.contains(value), "\(name) reached the rebuild")
        }
        #expect(environment.contains("KEEP_ME=kept"))
        #expect(environment.contains("SMART_SYNC_TARGET=\(t.s.target)"))
    }

    @Test func theDefaultCommandNeedsNixosRebuild() throws {
        let t = try UpdateSetup()
        // Scenario's PATH has no nixos-rebuild.
        let r = try t.s.run("update", ["--config", t.config, "--root", t.root])
        #expect(r.status == 1)
        #expect(r.stderrString.contains("--skip-rebuild"), "\(r.stderrString)")
        #expect(r.stderrString.contains("--rebuild-command"))
        try t.s.expectTargetEqualsArchive(t.a)
    }

    /// `--keep-local` was accepted by update and ignored: the edit was replaced (after being kept).
    @Test func keepLocalLeavesALocalEditInPlace() throws {
        let t = try UpdateSetup()
        let path = t.s.target + "/README.md"
        try Data("# my readme\n".utf8).write(to: URL(fileURLWithPath: path))
        let r = try t.update(["--skip-rebuild", "--keep-local", "--json"])
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "# my readme\n")
        #expect(r.stdoutString.contains("kept local version (--keep-local)"), "\(r.stdoutString)")
        var want = try t.s.archiveSnapshot(t.b)
        var got = try DirectorySnapshot(of: t.s.target)
        want.entries["README.md"] = nil
        got.entries["README.md"] = nil
        #expect(got == want, "\(got.difference(from: want))")
    }
}
