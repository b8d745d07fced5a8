import Foundation
import Glibc
import TestSupport
import Testing

/// `update` against other runs and kills: it keeps the target locked from its first check to its last, and the
/// next update finishes one killed after its switch (the pending-rebuild mark).
@Suite("update: locks and kills", .serialized)
struct UpdateInterruptionEndToEndTests {
    /// Waits for `process` and returns its exit status, with its stderr for messages.
    private func finish(_ process: ChildProcess, _ t: UpdateSetup) -> (Int32, String) {
        let end = process.wait()
        let err = (try? String(contentsOfFile: t.s.dirs.appending("update.err"), encoding: .utf8)) ?? ""
        return (end.status, err)
    }

    @Test func anotherSyncCannotInterleaveWithAnUpdatesRebuild() throws {
        let t = try UpdateSetup()
        let update = try t.startUpdate([], env: "BLOCK_ON=0")
        defer { _ = FileManager.default.createFile(atPath: t.go, contents: nil) }
        try #require(t.waitFor(t.s.dirs.appending("started-0")), "the rebuild never started")

        // The tree is switched and the rebuild runs: a sync of the same target is refused.
        let sync = try t.s.run("sync")
        #expect(sync.status == 7, "\(sync.stderrString)")
        #expect(sync.stderrString.contains("in use by another smart-sync run"), "\(sync.stderrString)")

        _ = FileManager.default.createFile(atPath: t.go, contents: nil)
        let (status, err) = finish(update, t)
        #expect(status == 0, "\(err)")
        try t.s.expectTargetEqualsArchive(t.b)
    }

    @Test func theLockIsHeldThroughTheRollbackAndTheRebuildAfterIt() throws {
        let t = try UpdateSetup()
        // B's rebuild fails; the rebuild of A after the rollback waits.
        let update = try t.startUpdate([], env: "FAIL_ON=enp3s0 BLOCK_ON=1")
        defer { _ = FileManager.default.createFile(atPath: t.go, contents: nil) }
        try #require(t.waitFor(t.s.dirs.appending("started-1")), "the rebuild after the rollback never started")

        let sync = try t.s.run("sync")
        #expect(sync.status == 7, "\(sync.stderrString)")
        let rollback = try SmartSyncBinary.run(
            ["rollback", "--target", t.s.target, "--state-dir", t.s.stateDir, "--store", t.s.store],
            environment: t.s.environment(), check: false)
        #expect(rollback.status == 7, "\(rollback.stderrString)")

        _ = FileManager.default.createFile(atPath: t.go, contents: nil)
        let (status, err) = finish(update, t)
        #expect(status == 1)
        #expect(err.contains("rolled back to \(t.a)"), "\(err)")
        try t.s.expectTargetEqualsArchive(t.a)
    }

    @Test func anUpdateKilledDuringItsRebuildIsFinishedByTheNext() throws {
        let t = try UpdateSetup()
        let update = try t.startUpdate([], env: "BLOCK_ON=0")
        try #require(t.waitFor(t.s.dirs.appending("started-0")), "the rebuild never started")
        update.signal(SIGKILL)
        update.wait()
        // Let the orphaned rebuild command end.
        _ = FileManager.default.createFile(atPath: t.go, contents: nil)
        try t.s.expectTargetEqualsArchive(t.b)
        #expect(t.runs().count == 1)

        // The rerun switches nothing, but knows the rebuild never finished: it runs it, then the checks.
        let r = try t.update(["--json"])
        #expect(r.status == 0, "\(r.stderrString)")
        let hash = try t.archiveHash(t.b)
        #expect(t.runs().count == 2, "\(t.runs())")
        #expect(t.runs().last == "action=switch target=\(t.s.target) host=hv1 rollback=0 hash=\(hash)")
        let summary = try Scenario.summary(r)
        #expect(summary["resumed"] as? Bool == true)
        #expect(summary["switched"] as? Bool == false)
        let steps = (summary["steps"] as? [[String: Any]] ?? []).map { "\($0["step"]!)=\($0["status"]!)" }
        #expect(steps == ["pre-validate=ok", "sync=ok", "rebuild=ok", "post-validate=ok"], "\(steps)")

        // Consistent afterwards: recorded at B, and the next update has nothing to do.
        #expect(try t.s.run("plan").status == 0)
        #expect(try t.update([]).status == 0)
        #expect(t.runs().count == 2)
    }

    @Test func anUpdateKilledDuringItsPostValidationIsFinishedByTheNext() throws {
        let t = try UpdateSetup(checks: "[[check]]\nkind = \"flake\"\n")
        // A nix-instantiate that waits while it parses the switched target's flake.nix (not the stage's).
        let bin = t.s.dirs.appending("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let validating = t.s.dirs.appending("validating")
        try TestFiles.write(
            bin + "/nix-instantiate",
            """
            #!/bin/sh
            if [ -n "$BLOCK_VALIDATE" ] && [ "$2" = "\(t.s.target)/flake.nix" ]; then
              touch \(validating)
              i=0; while [ ! -e \(t.go) ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
            fi
            exit 0

            """, mode: 0o755)
        let path = "\(bin):/usr/local/bin:/usr/bin:/bin"
        let update = try t.startUpdate([], environment: ["PATH": path, "BLOCK_VALIDATE": "1"])
        try #require(t.waitFor(validating), "the post-validation never started")
        update.signal(SIGKILL)
        update.wait()
        _ = FileManager.default.createFile(atPath: t.go, contents: nil)
        #expect(t.runs().count == 1)

        let r = try SmartSyncBinary.run(
            t.s.arguments("update", t.updateArguments(["--json"], env: "")),
            environment: t.s.environment().merging(["PATH": path]) { $1 }, check: false)
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(t.runs().count == 2, "the rebuild runs again: \(t.runs())")
        #expect(try Scenario.summary(r)["resumed"] as? Bool == true)
        try t.s.expectTargetEqualsArchive(t.b)
    }
}
