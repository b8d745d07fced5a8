import Foundation
import TestSupport
import Testing

@Suite("local source, warm and the bundled demo")
struct LocalSourceAndWarmTests {
    private func local(_ repo: GitFixture, _ dirs: TemporaryDirectory, _ args: [String]) throws -> ProcessResult {
        try SmartSyncBinary.run(
            [
                "sync", "--source", repo.path, "--target", dirs.appending("target"), "--store", dirs.appending("store"),
                "--state-dir", dirs.appending("state"),
            ] + args,
            environment: ["HOME": dirs.path, "NO_COLOR": "1"], check: false)
    }

    @Test(arguments: [false, true])
    func localRepositorySyncEqualsArchive(bare: Bool) throws {
        let repo = try GitFixture(bare: bare)
        let a = try Fixtures.commitA(repo)
        let b = try Fixtures.commitB(repo)
        let dirs = try TemporaryDirectory(prefix: "local")
        for commit in [a, b] {
            let r = try local(repo, dirs, ["--ref", commit])
            #expect(r.status == 0, "\(r.stderrString)")
            let expected = try TemporaryDirectory(prefix: "archive")
            try repo.archive(commit: commit, into: expected.path)
            let got = try DirectorySnapshot(of: dirs.appending("target"))
            let want = try DirectorySnapshot(of: expected.path)
            #expect(got == want, "\(got.difference(from: want))")
        }
    }

    @Test func localSourceErrorsNameTheInput() throws {
        let repo = try GitFixture()
        _ = try Fixtures.commitA(repo)
        let dirs = try TemporaryDirectory(prefix: "local")
        let badRef = try local(repo, dirs, ["--ref", "nope"])
        #expect(badRef.status == 4)
        #expect(badRef.stderrString.contains("'nope'"))
        let notRepo = try SmartSyncBinary.run(
            [
                "sync", "--source", dirs.path, "--target", dirs.appending("t"), "--store", dirs.appending("s"),
                "--state-dir", dirs.appending("st"),
            ],
            environment: ["HOME": dirs.path], check: false)
        #expect(notRepo.status == 1)
        #expect(notRepo.stderrString.contains("is not a git repository"))
    }

    @Test func replaceRefsDoNotChangeWhatACommitHolds() throws {
        let repo = try GitFixture()
        let a = try Fixtures.commitA(repo)
        let b = try Fixtures.commitB(repo)
        let expected = try TemporaryDirectory(prefix: "archive")
        try repo.archive(commit: b, into: expected.path)
        let want = try DirectorySnapshot(of: expected.path)
        // refs/replace/<b> makes git show A's content under B's id.
        try repo.git("replace", b, a)
        let dirs = try TemporaryDirectory(prefix: "local")
        let r = try local(repo, dirs, ["--ref", b])
        #expect(r.status == 0, "\(r.stderrString)")
        let got = try DirectorySnapshot(of: dirs.appending("target"))
        #expect(got == want, "\(got.difference(from: want))")
    }

    @Test func warmFillsTheStoreSoALaterSyncNeedsNoBlobRequests() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.repo.tag("v1", annotated: true, message: "v1")
        let b = try Fixtures.commitB(s.repo)
        let r = try s.run("warm", ["--ref", "v1", "--ref", "main", "--json"])
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(!FileManager.default.fileExists(atPath: s.target))
        let summaries = r.stdoutString.split(separator: "\n").filter { $0.contains(#""event":"summary""#) }
        #expect(summaries.count == 2)
        // With every raw request failing, syncs of both commits still succeed from the store.
        try s.server.setFaults(#"[{"match": {"listener": "raw"}, "action": {"status": 500}}]"#)
        try s.server.clearLog()
        try s.sync(["--ref", "v1"])
        try s.expectTargetEqualsArchive(a)
        try s.sync(["--ref", "main"])
        try s.expectTargetEqualsArchive(b)
        #expect(try s.rawRequests().isEmpty)
    }

    /// Each ref's line reports that ref alone: its own requests and bytes and the time it took (before, every line
    /// printed after all refs were warmed, with the run's totals and a time of 0.00 s).
    @Test func warmReportsEachRefOnItsOwn() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.repo.tag("v1", annotated: true, message: "v1")
        _ = try Fixtures.commitB(s.repo)
        let r = try s.run("warm", ["--ref", "v1", "--ref", "main", "--json"])
        #expect(r.status == 0, "\(r.stderrString)")
        let summaries = try r.stdoutString.split(separator: "\n").filter { $0.contains(#""event":"summary""#) }.map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        try #require(summaries.count == 2)
        let requests = try summaries.map { try #require($0["requests"] as? [String: Any]) }
        let received = requests.map { ($0["bytesReceived"] as? Int) ?? -1 }
        // The second ref needs only B's new objects: fewer bytes than the first, and the two add up to the run's.
        #expect(received[0] > received[1] && received[1] > 0, "\(received)")
        let logged = try s.server.requests().count
        let counted = requests.map {
            ($0["apiRequests"] as? Int ?? 0) + ($0["blobRequests"] as? Int ?? 0) + ($0["packRequests"] as? Int ?? 0)
        }
        #expect(counted[0] + counted[1] <= logged && counted[1] > 0, "\(counted) of \(logged)")
        for summary in summaries {
            let seconds = try #require(summary["seconds"] as? Double)
            #expect(seconds > 0.0005, "\(summary)")
        }
    }

    @Test func bundledDemoRunsOffline() throws {
        let root = SmartSyncBinary.packageRoot
        let dirs = try TemporaryDirectory(prefix: "demo")
        let repo = dirs.appending("repo")
        _ = try ProcessRunner.run(root + "/tools/make-example-repo", [repo])
        let bin = try SmartSyncBinary.path()
        let common = [
            "--source", repo, "--target", dirs.appending("target"), "--store", dirs.appending("store"),
            "--state-dir", dirs.appending("state"),
        ]
        #expect(try ProcessRunner.run(bin, ["sync"] + common + ["--ref", "v1"], check: false).status == 0)
        #expect(try ProcessRunner.run(bin, ["plan"] + common + ["--ref", "v2"], check: false).status == 3)
        #expect(try ProcessRunner.run(bin, ["sync"] + common + ["--ref", "v2"], check: false).status == 0)
        let expected = dirs.appending("expected")
        try FileManager.default.createDirectory(atPath: expected, withIntermediateDirectories: true)
        _ = try ProcessRunner.run("/bin/sh", ["-c", "git -C '\(repo)' archive v2 | tar -x -C '\(expected)'"])
        #expect(try DirectorySnapshot(of: dirs.appending("target")) == DirectorySnapshot(of: expected))
    }
}
