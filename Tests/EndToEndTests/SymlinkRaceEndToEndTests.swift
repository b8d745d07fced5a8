import Foundation
import TestSupport
import Testing

/// A local attacker who can swap an operator's directory in the target for a symlink (and back) at any moment must
/// never make smart-sync touch what the symlink points to: not while it carries operator files into a stage, prunes
/// generations, rolls back, or repairs modes and owners with `validate --fix`.
@Suite("symlink race against every walk of the target", .serialized)
struct SymlinkRaceEndToEndTests {
    /// `stat` of every entry below `dir` (mode, owner, size, mtime) plus each file's content: what must not change.
    private func fingerprint(_ dir: String) throws -> String {
        let r = try ProcessRunner.run(
            "/bin/sh",
            [
                "-c", "cd \"$0\" && find . -printf '%p %m %u:%g %s %T@ %y\\n' | sort && cat $(find . -type f | sort)",
                dir,
            ])
        try #require(r.status == 0, "\(r.stderrString)")
        return r.stdoutString
    }

    @Test func aDirectoryFlippedToASymlinkNeverLetsAChangeOutside() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let b = try Fixtures.commitB(s.repo)
        try s.sync(["--ref", a])

        // Outside the target: what a symlink will point to, with everything a fix would like to change.
        let outside = s.dirs.appending("outside")
        for (path, mode) in [("", 0o755), ("/sub", 0o755)] {
            try FileManager.default.createDirectory(atPath: outside + path, withIntermediateDirectories: true)
            chmod(outside + path, mode_t(mode))
        }
        for name in ["victim", "x.sh", "sub/deep"] {
            try Data("outside \(name)\n".utf8).write(to: URL(fileURLWithPath: outside + "/" + name))
            chmod(outside + "/" + name, 0o666)
            chown(outside + "/" + name, 65534, 65534)
        }
        let before = try fingerprint(outside)

        // The operator's directory in the target, with the same names.
        let ops = s.target + "/ops"
        try FileManager.default.createDirectory(atPath: ops + "/sub", withIntermediateDirectories: true)
        for name in ["victim", "x.sh", "sub/deep"] {
            try Data("ops \(name)\n".utf8).write(to: URL(fileURLWithPath: ops + "/" + name))
            chmod(ops + "/" + name, 0o666)
        }
        let config = s.dirs.appending("checks.toml")
        try """
        [[check]]
        kind = "ownership"
        path = "ops"
        owner = "root"
        group = "root"
        [[check]]
        kind = "executable"
        glob = "ops/*.sh"
        [[check]]
        kind = "directory"
        path = "ops/sub"
        mode = "0700"
        """.write(toFile: config, atomically: true, encoding: .utf8)

        // The attacker: swap ops for a symlink to outside and back, as fast as it can, the whole time.
        let process = try ProcessRunner(
            "/usr/bin/python3",
            [
                "-c",
                """
                import os, sys, time
                t, out = sys.argv[1], sys.argv[2]
                ops, real = t + "/ops", t + "/.ops-real"
                end = time.time() + 600
                while time.time() < end and os.path.exists(t):
                    try:
                        os.rename(ops, real); os.symlink(out, ops)
                        os.unlink(ops); os.rename(real, ops)
                    except OSError:
                        pass
                """, s.target, outside,
            ],
            environment: ChildEnvironment.current
        ).start(output: .standardError, error: .standardError)
        let flipper = BackgroundProcess()
        flipper.adopt(process)
        defer { flipper.stop() }

        var outcomes: [String: Int] = [:]
        for i in 0..<24 {
            let ref = i % 2 == 0 ? b : a
            // Back and forth between two trees: every other sync goes back to A, on purpose.
            let sync = try s.run(
                "sync", ["--ref", ref, "--keep-generations", "1", "--exclude", ".ops-real", "--allow-downgrade"])
            outcomes["sync \(sync.status)", default: 0] += 1
            let fix = try SmartSyncBinary.run(
                [
                    "validate", "--fix", "--config", config, "--target", s.target, "--store", s.store, "--state-dir",
                    s.stateDir,
                ],
                environment: s.environment(), check: false)
            outcomes["validate \(fix.status)", default: 0] += 1
            if i % 6 == 5 {
                let back = try SmartSyncBinary.run(
                    [
                        "rollback", "--target", s.target, "--state-dir", s.stateDir, "--store", s.store,
                        "--keep-generations", "1",
                    ],
                    environment: s.environment(), check: false)
                outcomes["rollback \(back.status)", default: 0] += 1
            }
            #expect(try fingerprint(outside) == before, "after round \(i) (\(outcomes)) something outside changed")
        }
        flipper.stop()
        print("symlink race outcomes: \(outcomes)")
        // The runs did real work meanwhile: most syncs succeeded.
        #expect(outcomes["sync 0", default: 0] >= 12, "\(outcomes)")
        #expect(try fingerprint(outside) == before)
    }
}
