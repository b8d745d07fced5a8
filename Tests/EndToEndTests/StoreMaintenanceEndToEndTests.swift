import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

/// gc, pins, fsck and the size policy, through the built binary.
@Suite("store maintenance: gc, pins, fsck", .serialized)
struct StoreMaintenanceEndToEndTests {
    typealias PackScenario = PackTransportEndToEndTests.PackScenario

    /// `smart-sync <args> --store …` (with `--state-dir …` for gc).
    private func local(_ s: Scenario, _ args: [String]) throws -> ProcessResult {
        let state = args.first == "gc" ? ["--state-dir", s.stateDir] : []
        return try SmartSyncBinary.run(args + ["--store", s.store] + state, environment: s.environment(), check: false)
    }

    /// `smart-sync fsck acme/hyper …` with the test server as its source.
    private func fsck(_ s: Scenario, _ extra: [String] = [], json: Bool = true) throws -> ProcessResult {
        try SmartSyncBinary.run(
            [
                "fsck", s.slug, "--api-url", s.server.apiURL, "--raw-url", s.server.rawURL, "--git-url",
                s.server.gitURL,
                "--transport", "raw", "--store", s.store, "--state-dir", s.stateDir,
            ] + (json ? ["--json"] : []) + extra, environment: s.environment(), check: false)
    }

    private func objectPath(_ s: Scenario, _ id: String) -> String {
        "\(s.store)/objects/\(id.prefix(2))/\(id.dropFirst(2))"
    }

    private func events(_ r: ProcessResult, _ name: String) -> [[String: Any]] {
        r.stdoutString.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["event"] as? String == name }
    }

    @Test func afterGCRollbackRestoreAndSyncsToRootCommitsNeedNoNetwork() throws {
        let p = try PackScenario()
        let s = p.s
        let a = try Fixtures.commitA(s.repo)
        try s.sync(["--git-url", p.git.baseURL, "--transport", "auto"])
        // An operator's edit, replaced (and kept) by the sync to B; A's tree becomes generation 1.
        let edited = "modules/net/bridge.nix"
        try? FileManager.default.removeItem(atPath: s.target + "/" + edited)
        try Data("{ bridge = \"mine\"; }\n".utf8).write(to: URL(fileURLWithPath: s.target + "/" + edited))
        let b = try Fixtures.commitB(s.repo)
        let synced = try p.sync(["--transport", "auto"])
        #expect((synced["kept"] as? [Any])?.count == 1)
        // C is pinned under its tag; D only warmed: its own content is garbage.
        try s.repo.write("pinned-only.txt", "kept by the pin\n")
        let c = try s.repo.commit("C")
        try s.repo.tag("v3", at: c)
        try s.repo.remove("pinned-only.txt")
        try s.repo.write("warmed-only.txt", "nobody keeps this\n")
        let d = try s.repo.commit("D")
        for extra in [["--ref", "v3", "--pin"], ["--ref", d]] {
            let r = try p.run("warm", ["--transport", "auto"] + extra)
            #expect(r.status == 0, "\(r.stderrString)")
        }
        let pins = try local(s, ["pins"])
        #expect(pins.stdoutString.hasPrefix("v3\t\(c)\t"), "\(pins.stdoutString)")
        let warmedOnly = ObjectID.blob(Array("nobody keeps this\n".utf8)).hex
        let pinnedOnly = ObjectID.blob(Array("kept by the pin\n".utf8)).hex
        #expect(FileManager.default.fileExists(atPath: objectPath(s, warmedOnly)))

        let dry = try local(s, ["gc", "--grace", "0", "--dry-run"])
        #expect(dry.status == 0 && dry.stdoutString.contains("object      \(warmedOnly)"), "\(dry.stdoutString)")
        #expect(FileManager.default.fileExists(atPath: objectPath(s, warmedOnly)))
        let gc = try local(s, ["gc", "--grace", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderrString)")
        let summary = try Scenario.summary(gc)
        let objects = summary["objects"] as? [String: Any] ?? [:]
        #expect((objects["removed"] as? Int ?? 0) >= 3, "\(summary)")  // D's blob, commit and trees
        #expect(!FileManager.default.fileExists(atPath: objectPath(s, warmedOnly)))
        #expect(!FileManager.default.fileExists(atPath: objectPath(s, d)))
        for kept in [pinnedOnly, a, b, c] { #expect(FileManager.default.fileExists(atPath: objectPath(s, kept))) }

        // The network is gone: both servers stop, so any request would fail the run.
        p.git.stop()
        s.server.stop()
        let restore = try SmartSyncBinary.run(
            ["restore", edited, "--target", s.target, "--store", s.store, "--state-dir", s.stateDir],
            environment: s.environment(), check: false)
        #expect(restore.status == 0, "\(restore.stderrString)")
        #expect(try String(contentsOfFile: s.target + "/" + edited, encoding: .utf8) == "{ bridge = \"mine\"; }\n")
        let rollback = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--store", s.store, "--state-dir", s.stateDir],
            environment: s.environment(), check: false)
        #expect(rollback.status == 0, "\(rollback.stderrString) \(rollback.stdoutString)")
        #expect(FileManager.default.fileExists(atPath: s.target + "/scripts/old.sh"))  // only A has it
        for (commit, name) in [(c, "the pinned commit"), (b, "the generation's commit"), (b, "the current commit")] {
            // Moving between stored commits offline: no source can answer ancestry, so leave is given.
            let r = try p.run("sync", ["--transport", "auto", "--ref", commit, "--allow-downgrade"])
            #expect(r.status == 0, "sync to \(name) with the network gone: \(r.stderrString)")
            try s.expectTargetEqualsArchive(commit)
        }
        let verify = try SmartSyncBinary.run(
            ["verify", "--target", s.target, "--store", s.store, "--state-dir", s.stateDir],
            environment: s.environment(), check: false)
        #expect(verify.status == 0, "\(verify.stderrString)")

        // Unpinned, C is no root of its own any more (its tree is a generation's now).
        #expect(try local(s, ["unpin", "v3"]).status == 0)
        #expect(try local(s, ["unpin", "v3"]).status == 4)
        let after = try Scenario.summary(try local(s, ["gc", "--grace", "0", "--json"]))
        #expect((after["roots"] as? [String: Any])?["pin"] == nil, "\(after)")
    }

    @Test func gcRacingSyncsBothSucceedAndTheTargetIsRight() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.repo.tag("ta", at: a)
        let b = try Fixtures.commitB(s.repo)
        try s.repo.tag("tb", at: b)
        // Slow answers keep each sync inside the store lock for a while (a tag is resolved with a request each time).
        try s.server.setFaults(
            #"[{"match": {"listener": "api"}, "action": {"delay_ms": 300}}, {"match": {"listener": "raw"}, "#
                + #""action": {"delay_ms": 100}}]"#
        )
        let binary = try SmartSyncBinary.path()
        func start(_ args: [String]) throws -> ChildProcess {
            try ProcessRunner(binary, args, environment: s.environment().compactMapValues { $0 })
                .start(output: .discard, error: .pipe)
        }
        var gcWaited = 0
        for round in 0..<8 {
            let commit = round % 2 == 0 ? a : b
            // No generations: what the other commit needs is garbage, so gc really removes what a sync may need.
            let sync = try start([
                "sync", s.slug, "--transport", "raw", "--api-url", s.server.apiURL, "--raw-url", s.server.rawURL,
                "--git-url", s.server.gitURL, "--store", s.store, "--state-dir", s.stateDir, "--target", s.target,
                "--ref", round % 2 == 0 ? "ta" : "tb", "--keep-generations", "0", "--allow-downgrade",
            ])
            // Every other round gc starts once the sync holds the store; otherwise both start together.
            if round % 2 == 0 { waitUntilStoreIsLocked(s.store) }
            let gc = try start(["gc", "--grace", "0", "--store", s.store, "--state-dir", s.stateDir])
            let syncErr = try sync.readToEnd(sync.standardError!)
            let gcErr = try gc.readToEnd(gc.standardError!)
            #expect(sync.wait() == .exited(0), "round \(round) sync: \(String(decoding: syncErr, as: UTF8.self))")
            #expect(gc.wait() == .exited(0), "round \(round) gc: \(String(decoding: gcErr, as: UTF8.self))")
            if String(decoding: gcErr, as: UTF8.self).contains("waiting for running syncs") { gcWaited += 1 }
            try s.expectTargetEqualsArchive(commit)
        }
        #expect(gcWaited >= 4, "gc waited for a sync in \(gcWaited) of 8 rounds")
        // gc leaves exactly what the target needs: a sync back to the other commit downloads its blobs again.
        try s.server.setFaults("[]")
        #expect(try local(s, ["gc", "--grace", "0"]).status == 0)
        try s.server.clearLog()
        try s.sync(["--ref", a, "--allow-downgrade"])
        #expect(!(try s.rawRequests()).isEmpty)
        try s.expectTargetEqualsArchive(a)
    }

    /// `sync` and `update` alike (update holds the store lock from its first check to its last, and took it without
    /// waiting: it exited 7 while gc ran).
    @Test(arguments: ["sync", "update"])
    func aRunThatStartsWhileTheStoreIsHeldExclusivelyWaitsInsteadOfFailing(command: String) throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let b = try Fixtures.commitB(s.repo)
        let checks = s.root + "/checks.toml"
        try Data("[[check]]\nkind = \"directory\"\npath = \"modules\"\n".utf8).write(to: URL(fileURLWithPath: checks))
        let extra = command == "update" ? ["--skip-rebuild", "--config", checks] : []
        // This process stands in for a gc: it holds the store lock exclusively until the sync says it waits.
        let lockFD = open(s.store + "/lock", O_RDWR)
        defer { close(lockFD) }
        #expect(flock(lockFD, LOCK_EX) == 0)
        let process = try ProcessRunner(
            try SmartSyncBinary.path(),
            [
                command, s.slug, "--transport", "raw", "--api-url", s.server.apiURL, "--raw-url", s.server.rawURL,
                "--git-url", s.server.gitURL, "--store", s.store, "--state-dir", s.stateDir, "--target", s.target,
            ] + extra,
            environment: s.environment().compactMapValues { $0 }
        ).start(output: .discard, error: .pipe)
        var said = ""
        while !said.contains("waiting up to"), case let chunk = try process.read(process.standardError!), !chunk.isEmpty
        {
            said += String(decoding: chunk, as: UTF8.self)
        }
        #expect(said.contains("is being cleaned up (smart-sync gc)"), "\(said)")
        #expect(process.isRunning)
        flock(lockFD, LOCK_UN)
        #expect(process.wait() == .exited(0))
        try s.expectTargetEqualsArchive(b)
    }

    /// Polls (`flock LOCK_EX|LOCK_NB` on `<store>/lock`, released at once) until another process holds the lock.
    private func waitUntilStoreIsLocked(_ store: String) {
        for _ in 0..<1000 {
            let fd = open(store + "/lock", O_RDONLY)
            if fd >= 0 {
                defer { close(fd) }
                if flock(fd, LOCK_EX | LOCK_NB) != 0 { return }
                flock(fd, LOCK_UN)
            }
            usleep(5_000)
        }
    }

    @Test func fsckQuarantinesAFlippedByteSealsAChmodAgainAndRepairFetchesTheDamagedObject() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        #expect(try fsck(s).status == 0)
        // A byte flipped through the target's hardlink: the store object changes with it.
        let path = "modules/net/bridge.nix"
        let id = try s.repo.git("rev-parse", "\(a):\(path)").trimmingCharacters(in: .whitespacesAndNewlines)
        chmod(s.target + "/" + path, 0o644)
        let handle = try #require(FileHandle(forUpdatingAtPath: s.target + "/" + path))
        handle.write(Data("X".utf8))
        try handle.close()
        // And a mode changed through another: content intact, sealed again rather than quarantined.
        let modeOnly = try s.repo.git("rev-parse", "\(a):README.md").trimmingCharacters(in: .whitespacesAndNewlines)
        chmod(s.target + "/README.md", 0o644)

        let found = try fsck(s)
        #expect(found.status == 3, "\(found.stderrString)")
        let damaged = events(found, "damaged")
        #expect(Set(damaged.compactMap { $0["id"] as? String }) == [id, modeOnly], "\(found.stdoutString)")
        #expect(damaged.first { $0["id"] as? String == id }?["problem"] as? String == "content")
        #expect(damaged.first { $0["id"] as? String == modeOnly }?["problem"] as? String == "seal")
        #expect(!FileManager.default.fileExists(atPath: objectPath(s, id)))
        #expect(FileManager.default.fileExists(atPath: objectPath(s, modeOnly)))
        let quarantined = try FileManager.default.contentsOfDirectory(atPath: s.store + "/quarantine")
        #expect(quarantined.contains { $0.hasPrefix(id + ".") && $0.hasSuffix(".why") })
        #expect(try Scenario.summary(found)["targets"] as? [String] == [s.target])
        // Still missing on a second look, whatever the first run did; the resealed object is intact now.
        let again = try fsck(s)
        #expect(again.status == 3 && events(again, "damaged").isEmpty, "\(again.stdoutString)")

        try s.server.clearLog()
        let repaired = try fsck(s, ["--repair"])
        #expect(repaired.status == 2, "\(repaired.stderrString)")
        let summary = try Scenario.summary(repaired)
        #expect(summary["fetched"] as? [String] == [id] && summary["restoredLocally"] as? [String] == [])
        #expect(try s.rawRequests().count == 1)
        #expect(try fsck(s).status == 0)
        #expect(try ObjectID.blob(Array(Data(contentsOf: URL(fileURLWithPath: objectPath(s, id))))).hex == id)
        // The target's file still links the damaged copy: verify finds it, and its repair replaces it.
        let verify = try s.run("verify", ["--repair"])
        #expect(verify.status == 0, "\(verify.stderrString)")
        try s.expectTargetEqualsArchive(a)
    }

    /// A damaged switch journal beside a target: fsck (with a damaged object, so that it compares the quarantine with
    /// the roots) warns naming it and completes (its summary, exit 3); it used to stop at the roots with gc's error. gc
    /// still refuses, and its hint says how to tell whether the exchange happened.
    @Test func fsckWarnsAboutADamagedJournalAndCompletes() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        // A byte flipped through the target's hardlink: a quarantined object, so fsck compares with the roots.
        let path = s.target + "/modules/net/bridge.nix"
        chmod(path, 0o644)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        handle.write(Data("X".utf8))
        try handle.close()
        let journal = (s.target as NSString).deletingLastPathComponent + "/."
            + (s.target as NSString).lastPathComponent + ".smart-sync/journal"
        try Data("{\"format\":\"smart-sync-switch-journal\",\"version\":1}\n".utf8)
            .write(to: URL(fileURLWithPath: journal))
        let checked = try fsck(s)
        #expect(checked.status == 3, "\(checked.stderrString)")
        let warnings = events(checked, "warning").compactMap { $0["message"] as? String }
        #expect(warnings.contains { $0.contains(journal) }, "\(checked.stdoutString)")
        #expect(try Scenario.summary(checked)["targets"] as? [String] == [s.target])
        let gc = try local(s, ["gc"])
        #expect(gc.status != 0)
        #expect(gc.stderrString.contains("stat -c %i"), "\(gc.stderrString)")
    }

    /// Roots fsck cannot read beside a target: its sidecar (a symlink planted there) or its switch journal
    /// (damaged), both of which gc stops at.
    enum UnreadRoots: CaseIterable, Sendable {
        case symlinkedSidecar, damagedJournal
    }

    /// A sidecar or switch journal fsck will not read leaves that target's roots unread: fsck warns naming it,
    /// finishes, and exits 6 for either, never 0 or 2, which say that nothing a root needs is missing. It used to
    /// exit 0 when that warning was its only finding, then 1 for a damaged journal (fsck's own failure). Put right,
    /// the same store checks 0.
    @Test(arguments: UnreadRoots.allCases)
    func fsckExits6WhenARefusedSidecarOrJournalLeftRootsUnread(unread: UnreadRoots) throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        // An object no root needs, damaged: fsck quarantines it, then compares the quarantine with the roots.
        let id = ObjectID.blob(Array("no root needs this\n".utf8)).hex
        try FileManager.default.createDirectory(
            atPath: (objectPath(s, id) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("damaged\n".utf8).write(to: URL(fileURLWithPath: objectPath(s, id)))
        let sidecar = (s.target as NSString).deletingLastPathComponent + "/."
            + (s.target as NSString).lastPathComponent + ".smart-sync"
        let named: String
        switch unread {
        case .symlinkedSidecar:
            named = sidecar
            try FileManager.default.moveItem(atPath: sidecar, toPath: sidecar + "-moved")
            #expect(symlink(sidecar + "-moved", sidecar) == 0)
        case .damagedJournal:
            named = sidecar + "/journal"
            try Data("{\"format\":\"smart-sync-switch-journal\",\"version\":1}\n".utf8)
                .write(to: URL(fileURLWithPath: named))
        }

        let found = try fsck(s)
        #expect(found.status == 6, "\(found.stderrString)")
        #expect(events(found, "damaged").compactMap { $0["id"] as? String } == [id], "\(found.stdoutString)")
        let warnings = events(found, "warning").compactMap { $0["message"] as? String }
        #expect(warnings.contains { $0.contains(named) && $0.contains("not counted") }, "\(found.stdoutString)")
        // Nothing left to mend: the refused sidecar or journal is the only finding (this exited 0), and the summary
        // says so, not only the warning.
        let again = try fsck(s)
        #expect(again.status == 6 && events(again, "damaged").isEmpty, "\(again.stdoutString)")
        #expect(try Scenario.summary(again)["unreadRoots"] as? [String] == [s.target], "\(again.stdoutString)")
        let text = try fsck(s, json: false)
        #expect(text.status == 6 && text.stderrString.contains("all intact; 1 target's roots not read"))
        let gc = try local(s, ["gc"]).status
        #expect(gc == (unread == .symlinkedSidecar ? 6 : 1), "gc did not stop at it with its own code: \(gc)")

        switch unread {
        case .symlinkedSidecar:
            #expect(unlink(sidecar) == 0)
            try FileManager.default.moveItem(atPath: sidecar + "-moved", toPath: sidecar)
        case .damagedJournal:
            try FileManager.default.removeItem(atPath: named)
        }
        let putRight = try fsck(s)
        #expect(putRight.status == 0 && events(putRight, "warning").isEmpty, "\(putRight.stdoutString)")
        #expect(try Scenario.summary(putRight)["unreadRoots"] as? [String] == [])
    }

    @Test func theStoreTableOfTheConfigSetsGCsAgesAndABadKeyIsRefusedNamingItsLine() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        try s.repo.write("warmed.txt", "only warmed\n")
        #expect(try s.run("warm", ["--ref", try s.repo.commit("warmed")]).status == 0)
        let warmed = objectPath(s, ObjectID.blob(Array("only warmed\n".utf8)).hex)
        let config = s.dirs.appending("config.toml")
        try Data("[[check]]\nkind = \"directory\"\npath = \"modules\"\n[store]\nmax_sise = \"1G\"\n".utf8)
            .write(to: URL(fileURLWithPath: config))
        let bad = try local(s, ["gc", "--config", config])
        #expect(
            bad.status == 64 && bad.stderrString.contains("config.toml:5: unknown key 'max_sise'"),
            "\(bad.stderrString)")
        // A sync refuses it too, whether or not --link-mode makes the file's [sync] table moot (with the flag, the
        // file went unread and the typo passed).
        for extra in [[], ["--link-mode", "hardlink"]] {
            let sync = try s.run("sync", ["--config", config] + extra)
            #expect(sync.status == 64 && sync.stderrString.contains("config.toml:5"), "\(extra): \(sync.stderrString)")
        }
        // The default grace keeps the fresh object; the config's zero grace lets it go.
        #expect(try local(s, ["gc"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: warmed))
        try Data("[store]\ngc_grace = \"0s\"\nkeep_local_age = \"90d\"\nmax_size = \"20G\"\n".utf8)
            .write(to: URL(fileURLWithPath: config))
        let r = try local(s, ["gc", "--config", config])
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(!FileManager.default.fileExists(atPath: warmed))
    }

    @Test func maxSizeRunsGCAfterASyncThatLeavesTheStoreOverIt() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let under = try s.run("sync", ["--json", "--max-size", "1G"])
        #expect(under.status == 0 && events(under, "gc").isEmpty, "\(under.stdoutString)")
        // Objects no target links are the store's own: a warmed commit's.
        try s.repo.write("warmed.txt", "only warmed\n")
        let warmed = try s.repo.commit("warmed")
        #expect(try s.run("warm", ["--ref", warmed]).status == 0)
        try s.repo.remove("warmed.txt")
        _ = try Fixtures.commitB(s.repo)
        let over = try s.run("sync", ["--json", "--max-size", "1K"])
        #expect(over.status == 0, "\(over.stderrString)")
        let gc = try #require(events(over, "gc").first, "\(over.stdoutString)")
        #expect(gc["storeBytes"] as? Int ?? 0 > 1024)  // all young: nothing could go within the default grace
        #expect(try Scenario.summary(over)["command"] as? String == "sync")
        // A store another run holds exclusively is skipped with a warning, the sync still succeeds.
        let lockFD = open(s.store + "/lock", O_RDWR)
        defer { close(lockFD) }
        #expect(flock(lockFD, LOCK_SH) == 0)
        let busy = try s.run("sync", ["--json", "--max-size", "1K", "--ref", a, "--allow-downgrade"])
        #expect(busy.status == 0, "\(busy.stderrString)")
        #expect(busy.stdoutString.contains("gc skipped"), "\(busy.stdoutString)")
    }
}
