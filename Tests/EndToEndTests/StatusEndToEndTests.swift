import Foundation
import Glibc
import TestSupport
import Testing

/// `smart-sync status`: text and JSON after a sync, a failed sync and a rollback; the history; pending edits.
@Suite("status and history", .serialized)
struct StatusEndToEndTests {
    private func status(_ s: Scenario, _ extra: [String]) throws -> ProcessResult {
        try SmartSyncBinary.run(
            ["status", "--state-dir", s.stateDir, "--store", s.store] + extra, environment: s.environment(),
            check: false)
    }

    private func objects(_ r: ProcessResult) throws -> [[String: Any]] {
        try r.stdoutString.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    private func statusJSON(_ s: Scenario) throws -> [String: Any] {
        let r = try status(s, ["--target", s.target, "--json"])
        #expect(r.status == 0, "\(r.stderrString)")
        return try #require(try objects(r).first)
    }

    /// `smart-sync status | true`: the listing's reader is gone; the text is dropped and status exits as it would
    /// (it was killed by SIGPIPE: 141).
    @Test func statusIntoAPipeWhoseReaderIsGone() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        for extra in [[String](), ["--json"]] {
            let arguments = ["status", "--state-dir", s.stateDir, "--store", s.store, "--target", s.target] + extra
            #expect(try s.runIntoClosedPipe(arguments, name: "status") == .exited(0), "\(extra)")
        }
    }

    @Test func statusAfterASyncAFailureAndARollback() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        var o = try statusJSON(s)
        #expect(o["event"] as? String == "status" && o["target"] as? String == s.target)
        #expect(
            o["commit"] as? String == a && o["lastResult"] as? String == "ok" && o["lastCommand"] as? String == "sync")
        #expect(o["pendingEdits"] as? Int == 0 && o["consecutiveFailures"] as? Int == 0)
        #expect((o["storeBytes"] as? Int ?? 0) > 70_000)
        #expect(o["lastAttempt"] as? String == o["lastSuccess"] as? String && o["appliedAt"] is String)
        var text = try status(s, ["--target", s.target])
        #expect(text.status == 0)
        #expect(text.stdoutString.hasPrefix(s.target + "\n"))
        // (Relative times: "just now", "12 s ago", ... whatever the machine's pace.)
        #expect(text.stdoutString.contains("  deployed        \(a.prefix(12)) (HEAD), applied "))
        #expect(text.stdoutString.contains("  last run        sync ") && text.stdoutString.contains(": ok, "))
        #expect(text.stdoutString.contains("  local edits     none"))

        // A failed sync: the error and its hint, the deployed commit as before.
        #expect(try s.run("sync", ["--ref", "no-such-branch"]).status == 4)
        o = try statusJSON(s)
        #expect(o["commit"] as? String == a && o["lastResult"] as? String == "failed")
        let error = try #require(o["lastError"] as? [String: Any])
        #expect(
            error["code"] as? String == "not-found" && (error["message"] as? String ?? "").contains("no-such-branch"))
        #expect(error["hint"] is String && o["consecutiveFailures"] as? Int == 1)
        text = try status(s, ["--target", s.target])
        #expect(text.stdoutString.contains("  last run        sync ") && text.stdoutString.contains(": failed, "))
        #expect(text.stdoutString.contains("error (not-found): "))
        #expect(text.stdoutString.contains("hint: "))

        // B, then a rollback to A: two generations listed, then the rollback shown.
        let b = try Fixtures.commitB(s.repo)
        try s.sync()
        o = try statusJSON(s)
        #expect(o["commit"] as? String == b && (o["generations"] as? [Any])?.count == 1)
        let rollback = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--state-dir", s.stateDir, "--store", s.store],
            environment: s.environment(), check: false)
        #expect(rollback.status == 0, "\(rollback.stderrString)")
        o = try statusJSON(s)
        #expect(o["commit"] as? String == a && o["lastCommand"] as? String == "rollback")
        #expect(o["lastResult"] as? String == "ok" && o["pendingEdits"] as? Int == 0)
        let generations = try #require(o["generations"] as? [[String: Any]])
        #expect(generations.map { $0["commit"] as? String } == [b])

        // The history, oldest first: what each run did.
        let history = try objects(try status(s, ["--target", s.target, "--history", "--json"]))
        let runs = history.filter { $0["event"] as? String == "run" }
        #expect(runs.map { $0["command"] as? String ?? "" } == ["sync", "sync", "sync", "rollback"])
        #expect(runs.map { $0["result"] as? String ?? "" } == ["ok", "failed", "ok", "ok"])
        #expect(runs[0]["from"] == nil && runs[0]["to"] as? String == a && (runs[0]["bytes"] as? Int ?? 0) > 70_000)
        #expect((runs[1]["error"] as? [String: Any])?["code"] as? String == "not-found")
        #expect(runs[2]["from"] as? String == a && runs[2]["to"] as? String == b)
        #expect(runs[3]["from"] as? String == b && runs[3]["to"] as? String == a)
        let table = try status(s, ["--target", s.target, "--history"]).stdoutString
        #expect(table.contains("TIME") && table.contains("rollback  ok") && table.contains("not-found: "))
    }

    /// A generation whose look is pending (its mark, ``PendingLook``) has both `pendingLook` (the mark's path) and
    /// `pendingLookSince` in JSON, one without neither. The time is the mark's `sinceNs` (when the run that marked it
    /// started), not the mark's mtime; the mtime only for a mark that cannot be read.
    @Test func aPendingLookIsShownWithBothKeysOrNeither() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let b = try Fixtures.commitB(s.repo)
        try s.sync()
        func generation() throws -> [String: Any] {
            try #require((try statusJSON(s)["generations"] as? [[String: Any]])?.first)
        }
        let unmarked = try generation()
        #expect(unmarked["pendingLook"] == nil && unmarked["pendingLookSince"] == nil, "\(unmarked)")
        let slash = try #require(s.target.lastIndex(of: "/"))
        let sidecar = s.target[..<slash] + "/." + s.target[s.target.index(after: slash)...] + ".smart-sync"
        let sequence = try #require(unmarked["sequence"] as? Int)
        let mark = "\(sidecar)/generations/\(sequence)/look"
        let mtime = Date(timeIntervalSince1970: 1_500_000_000)
        let sinceNs = 1_600_000_000 * 1_000_000_000 as Int64
        try Data(
            #"{"format":"smart-sync-pending-look","version":1,"replacedBy":"\#(b)","sinceNs":\#(sinceNs)}"#.utf8
        ).write(to: URL(fileURLWithPath: mark))
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: mark)
        var marked = try generation()
        #expect(marked["pendingLook"] as? String == mark, "\(marked)")
        #expect(marked["pendingLookSince"] as? String == "2020-09-13T12:26:40Z", "\(marked)")
        let text = try status(s, ["--target", s.target]).stdoutString
        #expect(text.contains("#\(sequence): the look at its tree is pending since ") && text.contains(mark), "\(text)")
        // A mark that cannot be read: since its mtime.
        try Data("not json".utf8).write(to: URL(fileURLWithPath: mark))
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: mark)
        marked = try generation()
        #expect(marked["pendingLook"] as? String == mark, "\(marked)")
        #expect(marked["pendingLookSince"] as? String == "2017-07-14T02:40:00Z", "\(marked)")
    }

    @Test func aTornHistoryLineIsSkippedAndTheNextRunStillAppends() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let dirs = try FileManager.default.contentsOfDirectory(atPath: s.stateDir + "/targets")
        let history = s.stateDir + "/targets/" + (try #require(dirs.first)) + "/history"
        // A crash mid-append leaves half a line without its newline.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: history))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"command":"sync","objects":3,"re"#.utf8))
        try handle.close()
        var runs = try objects(try status(s, ["--target", s.target, "--history", "--json"])).filter {
            $0["event"] as? String == "run"
        }
        #expect(runs.count == 1)
        try s.sync()
        runs = try objects(try status(s, ["--target", s.target, "--history", "--json"])).filter {
            $0["event"] as? String == "run"
        }
        #expect(runs.count == 2 && runs.allSatisfy { $0["result"] as? String == "ok" })
    }

    @Test func pendingEditsEveryTargetAndAnUnknownTarget() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let second = s.root + "/second"
        #expect(try s.run("sync", ["--quiet"], target: second).status == 0)
        // An editor's save (a new file in place of the synced one) and a chmod.
        let edited = s.target + "/modules/net/bridge.nix"
        try FileManager.default.removeItem(atPath: edited)
        try Data("{ bridge = \"mine\"; }\n".utf8).write(to: URL(fileURLWithPath: edited))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: s.target + "/flake.nix")
        let o = try statusJSON(s)
        #expect(o["pendingEdits"] as? Int == 2)
        #expect(o["pendingEditPaths"] as? [String] == ["flake.nix", "modules/net/bridge.nix"])
        let text = try status(s, []).stdoutString
        #expect(text.contains("local edits     2 pending: 'flake.nix', 'modules/net/bridge.nix'"), "\(text)")
        // Without --target: every target the state directory knows, each under its path.
        #expect(text.contains(s.target + "\n") && text.contains(second + "\n"))
        let all = try objects(try status(s, ["--json"]))
        #expect(all.compactMap { $0["target"] as? String }.sorted() == [second, s.target].sorted())

        let unknown = try status(s, ["--target", s.root + "/elsewhere"])
        #expect(unknown.status == 4)
        #expect(unknown.stderrString.contains("no run of smart-sync is recorded for '\(s.root)/elsewhere'"))
    }

    /// A directory swapped for a symlink to a directory holding the very files (their inodes, seals and all): the
    /// files below it are not where the sync put them, and the next sync will not write through the link. Read by
    /// directory descriptor, they are pending edits; followed by path, they looked untouched.
    @Test func aDirectorySwappedForASymlinkIsNotFollowed() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let moved = s.root + "/outside-net"
        #expect(rename(s.target + "/modules/net", moved) == 0)
        #expect(symlink(moved, s.target + "/modules/net") == 0)
        let o = try statusJSON(s)
        let paths = o["pendingEditPaths"] as? [String] ?? []
        #expect(paths.contains("modules/net/bridge.nix"), "\(o)")
        #expect(!paths.isEmpty && paths.allSatisfy { $0.hasPrefix("modules/net/") }, "\(paths)")
        #expect(o["pendingEdits"] as? Int == paths.count)
    }

    /// The listing goes out as it is written, not held in a buffer until exit: with stdout and stderr on one
    /// descriptor (`2>&1`, a journal), the first target's block comes before the error the second one stops on. It
    /// used to `print`, and the block landed after the error.
    @Test func aBlockWrittenBeforeAnErrorComesBeforeIt() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let second = s.root + "/target2"  // sorted after the first
        #expect(try s.run("sync", ["--quiet"], target: second).status == 0)
        // A kept generation of the second whose state cannot be read (a directory where the file goes): its status
        // fails, after the first target's.
        for part in ["tree", "state"] {
            try FileManager.default.createDirectory(
                atPath: s.root + "/.target2.smart-sync/generations/1/" + part, withIntermediateDirectories: true)
        }
        let env = ChildEnvironment.applying(s.environment(), to: ChildEnvironment.current)
        let r = try ProcessRunner(
            try SmartSyncBinary.path(), ["status", "--state-dir", s.stateDir, "--store", s.store], environment: env
        ).runAndWait(output: .captured, error: .sameAsOutput)
        #expect(r.status != 0)
        let text = r.stdoutString
        let block = try #require(text.range(of: s.target + "\n"), "\(text)")
        let error = try #require(text.range(of: "smart-sync: error:"), "\(text)")
        #expect(block.lowerBound < error.lowerBound, "\(text)")
    }
}
