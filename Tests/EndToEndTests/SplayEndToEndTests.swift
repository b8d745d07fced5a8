import Foundation
import SmartSyncCore
import TestSupport
import Testing

/// `--splay`: a random delay before the first request of sync, warm and update; none by default, none for a local
/// repository, and SIGINT/SIGTERM end it at once.
@Suite("--splay end to end", .serialized)
struct SplayEndToEndTests {
    /// The delay `-v` says the run waits, if it says one.
    static func announcedDelay(_ stderr: String) -> Double? {
        guard let line = stderr.split(separator: "\n").first(where: { $0.contains("splay: waiting ") }),
            let range = line.range(of: "splay: waiting ")
        else { return nil }
        return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    @Test func syncWaitsTheAnnouncedDelayBeforeItsFirstRequest() throws {
        let s = try Scenario()
        let commit = try Fixtures.commitA(s.repo)
        let started = Date().timeIntervalSince1970
        let r = try s.run("sync", ["--splay", "3s", "-v", "--json"])
        try #require(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(commit)
        let delay = try #require(Self.announcedDelay(r.stderrString), "no splay line at -v: \(r.stderrString)")
        // The line rounds to a tenth: a delay drawn in [2.95, 3) reads "3.0" (this failed CI once, 2026-12-08).
        #expect(delay >= 0 && delay <= 3)
        // The server logs when each response finished: the first came after the delay (less the log's rounding).
        let first = try #require(try s.server.requests().map(\.t).min())
        #expect(first - started >= delay - 0.1, "the first request came \(first - started) s in, before the splay")
    }

    @Test func noSplayByDefaultNorForALocalRepository() throws {
        let s = try Scenario()
        let commit = try Fixtures.commitA(s.repo)
        let r = try s.run("sync", ["-v", "--json"])
        try #require(r.status == 0, "\(r.stderrString)")
        #expect(Self.announcedDelay(r.stderrString) == nil)
        // --source reads a local repository: an hour's splay is not waited.
        let local = try SmartSyncBinary.run(
            [
                "sync", "--source", s.repo.path, "--ref", commit, "--target", s.root + "/local", "--store", s.store,
                "--state-dir", s.stateDir, "--splay", "1h", "-v",
            ], environment: s.environment(), check: false)
        #expect(local.status == 0, "\(local.stderrString)")
        #expect(Self.announcedDelay(local.stderrString) == nil)
    }

    /// `--all` waits once, the largest of the targets' `splay`; `--splay` wins over the file.
    @Test func allWaitsOnceTheLargestConfiguredSplay() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let config = try ConfigTargetsEndToEndTests().writeConfig(
            s,
            [
                ("alpha", "one", "repo = \"\(s.slug)\"\nsplay = \"2s\""),
                ("beta", "two", "repo = \"\(s.slug)\"\nsplay = \"500ms\""),
            ])
        let environment = s.environment()
        let all = try SmartSyncBinary.run(
            ["sync", "--all", "--config", config, "-v"], environment: environment, check: false)
        #expect(all.status == 0, "\(all.stderrString)")
        #expect(try DirectorySnapshot(of: s.root + "/one") == s.archiveSnapshot(a))
        let lines = all.stderrString.split(separator: "\n").filter { $0.contains("splay: waiting ") }
        #expect(lines.count == 1 && lines[0].contains("below 2s"), "\(lines)")
        let flag = try SmartSyncBinary.run(
            ["sync", "beta", "--config", config, "-v", "--splay", "100ms"], environment: environment, check: false)
        #expect(flag.status == 0, "\(flag.stderrString)")
        #expect(flag.stderrString.contains("below 0.1s"), "\(flag.stderrString)")
    }

    @Test func invalidSplayIsRefusedNamingTheFlag() throws {
        let s = try Scenario()
        for bad in ["3x", "-1s", "2d"] {
            let r = try s.run("sync", ["--splay", bad])
            #expect(r.status == 64, "\(bad): \(r.stderrString)")
            #expect(r.stderrString.contains("--splay"), "\(bad): \(r.stderrString)")
        }
        // plan never waits: it has no --splay.
        let plan = try s.run("plan", ["--splay", "5s"])
        #expect(plan.status == 64 && plan.stderrString.contains("--splay"))
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalEndsTheSplayAtOnce(_ signal: Int32) throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let child = try s.start("warm", ["--splay", "1h", "-v"], name: "splay")
        // Wait until it is splaying (its -v line), then signal it.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline,
            !((try? String(contentsOfFile: s.dirs.appending("splay.err"), encoding: .utf8)) ?? "").contains("splay:")
        {
            usleep(20_000)
        }
        let signalled = Date()
        child.signal(signal)
        let end = child.wait(timeout: .seconds(10))
        #expect(end == .signaled(signal), "\(String(describing: end))")
        #expect(Date().timeIntervalSince(signalled) < 10)
        #expect(try s.server.requests().isEmpty, "a request went out during the splay")
        if end == nil { _ = child.terminate() }
    }
}
