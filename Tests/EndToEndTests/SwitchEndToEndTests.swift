import Foundation
import TestSupport
import Testing

/// The staged switch, generations and rollback, through the CLI.
@Suite("atomic switch and rollback", .serialized)
struct SwitchEndToEndTests {
    private func inode(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int ?? -1
    }

    /// The target without the operator's own files, for comparing with `git archive`.
    private func snapshotWithout(_ s: Scenario, _ names: Set<String>) throws -> DirectorySnapshot {
        var snap = try DirectorySnapshot(of: s.target)
        snap.entries = snap.entries.filter { path, _ in !names.contains { path == $0 || path.hasPrefix($0 + "/") } }
        snap.emptyDirectories = snap.emptyDirectories.filter { path in
            !names.contains { path == $0 || path.hasPrefix($0 + "/") }
        }
        return snap
    }

    @Test func updateSwapsTheWholeTreeCarriesOperatorFilesAndRollsBack() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync(["--exclude", "local"])
        // The operator's things: a file at the top, one inside a synced directory, an empty directory, an
        // excluded subtree.
        try TestFiles.write(s.target + "/notes.txt", "mine\n")
        try TestFiles.write(s.target + "/modules/net/host-override.nix", "{ }\n")
        try FileManager.default.createDirectory(atPath: s.target + "/empty-dir", withIntermediateDirectories: true)
        try TestFiles.write(s.target + "/local/secret/key", "k\n")
        let before = try inode(s.target)

        let b = try Fixtures.commitB(s.repo)
        try s.sync(["--exclude", "local"])
        #expect(try inode(s.target) != before, "the target directory was not swapped")
        let ours: Set<String> = ["notes.txt", "modules/net/host-override.nix", "empty-dir", "local"]
        #expect(try snapshotWithout(s, ours) == s.archiveSnapshot(b))
        #expect(try String(contentsOfFile: s.target + "/notes.txt", encoding: .utf8) == "mine\n")
        #expect(try String(contentsOfFile: s.target + "/local/secret/key", encoding: .utf8) == "k\n")
        #expect(FileManager.default.fileExists(atPath: s.target + "/modules/net/host-override.nix"))
        #expect(FileManager.default.fileExists(atPath: s.target + "/empty-dir"))

        let list = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--state-dir", s.stateDir, "--list"], environment: s.environment(),
            check: false)
        #expect(list.status == 0)
        #expect(list.stdoutString.contains(a))

        // Rollback needs no network: stop the server first. A file made after the update comes along.
        s.server.stop()
        try TestFiles.write(s.target + "/after-update.txt", "new\n")
        let back = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--state-dir", s.stateDir], environment: s.environment(), check: false)
        #expect(back.status == 0, "\(back.stderrString)")
        #expect(try snapshotWithout(s, ours.union(["after-update.txt"])) == s.archiveSnapshot(a))
        #expect(try String(contentsOfFile: s.target + "/after-update.txt", encoding: .utf8) == "new\n")
        #expect(try String(contentsOfFile: s.target + "/notes.txt", encoding: .utf8) == "mine\n")
        // And forward again, to the tree we rolled away from.
        let forward = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--state-dir", s.stateDir, "--to", String(b.prefix(10))],
            environment: s.environment(), check: false)
        #expect(forward.status == 0, "\(forward.stderrString)")
        #expect(try snapshotWithout(s, ours.union(["after-update.txt"])) == s.archiveSnapshot(b))
    }

    @Test func onlyTheLastThreeGenerationsAreKept() throws {
        let s = try Scenario()
        for i in 0..<5 {
            try s.repo.write("version.txt", "\(i)\n")
            _ = try s.repo.commit("v\(i)")
            try s.sync()
        }
        let list = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--state-dir", s.stateDir, "--list"], environment: s.environment(),
            check: false)
        #expect(list.stdoutString.split(separator: "\n").count == 3, "\(list.stdoutString)")
        // Fewer on request.
        try s.repo.write("version.txt", "5\n")
        _ = try s.repo.commit("v5")
        try s.sync(["--keep-generations", "1"])
        let one = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--state-dir", s.stateDir, "--list"], environment: s.environment(),
            check: false)
        #expect(one.stdoutString.split(separator: "\n").count == 1, "\(one.stdoutString)")
        let none = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--state-dir", s.stateDir, "--to", "ffffffff"],
            environment: s.environment(), check: false)
        #expect(none.status == 4)
        #expect(none.stderrString.contains("no kept generation"))
    }

    @Test func killedAtRandomPointsTheTargetIsWhollyOldOrNewAndARerunCompletes() throws {
        let s = try Scenario(rateLimit: 100_000)
        for i in 0..<300 { try s.repo.write("tree/d\(i % 10)/file-\(i).txt", "version A of \(i)\n") }
        let a = try s.repo.commit("A")
        for i in 0..<300 where i % 2 == 0 { try s.repo.write("tree/d\(i % 10)/file-\(i).txt", "version B of \(i)\n") }
        for i in 300..<400 { try s.repo.write("tree/new/file-\(i).txt", "new \(i)\n") }
        let b = try s.repo.commit("B")
        let wantA = try s.archiveSnapshot(a)
        let wantB = try s.archiveSnapshot(b)
        let binary = try SmartSyncBinary.path()
        // How long an uninterrupted update takes here (fresh store, so it fetches), to spread the kills over.
        try s.sync(["--ref", a])
        let started = Date()
        try s.sync(["--ref", b, "--store", s.store + "-calibration"])
        let duration = Date().timeIntervalSince(started)
        var outcomes: [String: Int] = [:]
        for point in 0..<30 {
            try s.sync(["--ref", a, "--allow-downgrade"])  // back to A on purpose, for the next kill
            try #require(try DirectorySnapshot(of: s.target) == wantA)
            let p = try ProcessRunner(
                binary,
                [
                    "sync", s.slug, "--ref", b, "--transport", "raw", "--api-url", s.server.apiURL, "--raw-url",
                    s.server.rawURL, "--git-url",
                    s.server.gitURL, "--store",
                    s.store + "-\(point)", "--state-dir", s.stateDir, "--target", s.target, "--quiet",
                ],
                environment: ["HOME": s.dirs.path, "PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1"]
            ).start(output: .standardError, error: .standardError)
            // Spread the kill over fetch, stage and switch (a fresh store each time, so every run fetches).
            usleep(useconds_t(Double.random(in: 0...1.2) * duration * 1_000_000))
            p.signal(SIGKILL)
            p.wait()
            let got = try DirectorySnapshot(of: s.target)
            let state = got == wantA ? "old" : got == wantB ? "new" : "mixed"
            outcomes[state, default: 0] += 1
            #expect(
                state != "mixed", "kill point \(point): the target is neither A nor B:\n\(got.difference(from: wantB))")
            try s.sync(["--ref", b, "--store", s.store + "-\(point)"])
            #expect(try DirectorySnapshot(of: s.target) == wantB, "kill point \(point): the rerun did not complete")
        }
        print("kill outcomes over 30 points in \(String(format: "%.2f", duration)) s runs: \(outcomes)")
    }
}
