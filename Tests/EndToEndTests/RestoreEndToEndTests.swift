import Foundation
import Glibc
import SmartSyncGitObjects
import TestSupport
import Testing

/// Local edits are never lost: kept and listed by sync, brought back by restore, left alone with --keep-local.
@Suite("local versions: kept, restored, --keep-local", .serialized)
struct RestoreEndToEndTests {
    private let edited = "modules/net/bridge.nix"
    private let mine = "{ bridge = \"br-mine\"; } # the operator's\n"

    /// Replaces a file the way an editor does (new inode), leaving the store object alone.
    private func edit(_ path: String, _ text: String) throws { try TestFiles.write(path, text) }

    private func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    private func restore(_ s: Scenario, _ args: [String]) throws -> ProcessResult {
        try SmartSyncBinary.run(
            ["restore"] + args + ["--target", s.target, "--store", s.store, "--state-dir", s.stateDir],
            environment: s.environment(), check: false)
    }

    private func stat(_ path: String) throws -> (mode: Int, links: Int) {
        let a = try FileManager.default.attributesOfItem(atPath: path)
        return ((a[.posixPermissions] as? Int) ?? -1, (a[.referenceCount] as? Int) ?? -1)
    }

    @Test func aLocalEditIsKeptListedAndRestoredAndAResyncKeepsItAgain() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        try edit(s.target + "/" + edited, mine)
        let b = try Fixtures.commitB(s.repo)
        let mineID = ObjectID.blob(Array(mine.utf8)).hex

        // The sync replaces the edit, after keeping it: in the store, in the record, in the summary.
        let summary = try s.sync()
        let kept = summary["kept"] as? [[String: Any]] ?? []
        #expect(kept.count == 1)
        #expect(kept.first?["path"] as? String == edited && kept.first?["id"] as? String == mineID)
        try s.expectTargetEqualsArchive(b)
        #expect(FileManager.default.fileExists(atPath: "\(s.store)/objects/\(mineID.prefix(2))/\(mineID.dropFirst(2))"))

        // Restore brings it back byte for byte, as a private writable copy.
        let r = try restore(s, [edited])
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(try read(s.target + "/" + edited) == mine)
        let st = try stat(s.target + "/" + edited)
        #expect(st.mode == 0o644 && st.links == 1, "\(st)")

        // --list shows the kept version and the generation holding the edit.
        let list = try restore(s, [edited, "--list"])
        #expect(list.status == 0, "\(list.stderrString)")
        #expect(list.stdoutString.contains("kept") && list.stdoutString.contains(String(mineID.prefix(12))))
        #expect(list.stdoutString.contains("generation 1"), "\(list.stdoutString)")

        // A re-sync replaces it again and keeps it again: nothing is lost either way.
        let again = try s.run("sync")
        #expect(again.status == 0, "\(again.stderrString)")
        #expect(again.stderrString.contains("kept 1 local version: \(edited) — restore with `smart-sync restore PATH"))
        try s.expectTargetEqualsArchive(b)
        let list2 = try restore(s, [edited, "--list"])
        #expect(list2.stdoutString.split(separator: "\n").filter { $0.hasPrefix("kept") }.count == 2)

        // --generation N: generation 1 is A's tree as it was swapped out, with the edit; a path B deleted comes
        // back from it too, verified against A's manifest.
        let g = try restore(s, [s.target + "/" + edited, "--generation", "1"])
        #expect(g.status == 0, "\(g.stderrString)")
        #expect(try read(s.target + "/" + edited) == mine)
        let old = try restore(s, ["scripts/old.sh", "--generation", "1"])
        #expect(old.status == 0, "\(old.stderrString)")
        #expect(try read(s.target + "/scripts/old.sh") == "#!/bin/sh\necho old\n")
        #expect(try stat(s.target + "/scripts/old.sh").mode == 0o755)
        _ = a
    }

    @Test func pathsOutsideTheTargetAreRefused() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let outside = try TemporaryDirectory(prefix: "outside")
        try FileManager.default.createSymbolicLink(atPath: s.target + "/evil", withDestinationPath: outside.path)
        for path in ["../x", "modules/../../x", "/etc/passwd", "evil/x", s.target + "/../x"] {
            let r = try restore(s, [path])
            #expect(r.status == 6, "\(path): \(r.status) \(r.stderrString)")
        }
        let gen = try restore(s, ["README.md", "--generation", "7"])
        #expect(gen.status == 4, "\(gen.stderrString)")
        let none = try restore(s, ["README.md"])
        #expect(none.status == 4 && none.stderrString.contains("no local version"), "\(none.stderrString)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
    }

    @Test func keepLocalLeavesTheEditAndALaterSyncReplacesItAfterKeepingIt() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        try edit(s.target + "/" + edited, mine)
        try edit(s.target + "/README.md", "# my readme\n")  // also changed by nobody upstream: kept as well
        let b = try Fixtures.commitB(s.repo)

        let plan = try s.run("plan", ["--keep-local", "--list"])
        #expect(plan.stdoutString.contains("conflict    \(edited)"), "\(plan.stdoutString)")
        let r = try s.run("sync", ["--keep-local", "--json"])
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(r.stdoutString.contains("kept local version (--keep-local)"))
        let summary = try Scenario.summary(r)
        let counts = (summary["plan"] as? [String: Any])?["counts"] as? [String: Any]
        #expect(counts?["conflict"] as? Int == 2, "\(String(describing: counts))")
        #expect((summary["kept"] as? [Any])?.isEmpty == true)
        #expect(try read(s.target + "/" + edited) == mine)
        #expect(try read(s.target + "/README.md") == "# my readme\n")
        var want = try s.archiveSnapshot(b)
        var got = try DirectorySnapshot(of: s.target)
        want.entries[edited] = nil
        got.entries[edited] = nil
        want.entries["README.md"] = nil
        got.entries["README.md"] = nil
        #expect(got == want, "\(got.difference(from: want))")

        // Without the flag, the next sync replaces both, keeping them first.
        let later = try s.sync()
        let kept = (later["kept"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }.sorted()
        #expect(kept == ["README.md", edited])
        try s.expectTargetEqualsArchive(b)
        let back = try restore(s, [edited])
        #expect(back.status == 0, "\(back.stderrString)")
        #expect(try read(s.target + "/" + edited) == mine)
    }

    @Test func aKeptSecretKeepsItsModeAndOwnerAndIsNeverReadableByOthers() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        // The operator puts a private file of a service user where the tree has a file.
        let path = s.target + "/" + edited
        let secret = "{ token = \"s3cret\"; }\n"
        try edit(path, secret)
        #expect(chmod(path, 0o600) == 0 && chown(path, 65534, 65534) == 0)
        _ = try Fixtures.commitB(s.repo)
        let summary = try s.sync()
        #expect((summary["kept"] as? [[String: Any]])?.first?["path"] as? String == edited)

        // Its copy sits in a store, a state directory and a sidecar no other user can enter.
        let sidecar = (s.target as NSString).deletingLastPathComponent + "/.target.smart-sync"
        for dir in [s.store, s.stateDir, sidecar] {
            #expect(try stat(dir).mode & 0o007 == 0, "\(dir) is open to others")
        }
        let log = try read(s.stateDir + "/targets/" + ObjectID.blob(Array(s.target.utf8)).hex + "/kept")
        #expect(log.contains(" 600:65534:65534 "), "the kept record lacks mode and owner: \(log)")

        let r = try restore(s, [edited])
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(try read(path) == secret)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        #expect(attributes[.ownerAccountID] as? Int == 65534 && attributes[.groupOwnerAccountID] as? Int == 65534)
    }

    /// `restore --list` while another run holds the target's lock (an `update` holds it for minutes): a read-only
    /// listing does not wait for it and does not fail (exit 0, the versions on stdout); a warning names the holder's
    /// process and says that what that run keeps shows once it ends, in both output forms. `restore PATH` still
    /// needs the lock: exit 7, naming the holder.
    @Test func listingWhileAnotherRunHoldsTheLockNamesTheHolder() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        try edit(s.target + "/" + edited, mine)
        _ = try Fixtures.commitB(s.repo)
        try s.sync()
        // What another run does: an exclusive flock on the target's lock file, its PID written in it.
        let keys = try FileManager.default.contentsOfDirectory(atPath: s.stateDir + "/targets")
        let lockFile = s.stateDir + "/targets/" + (try #require(keys.first)) + "/lock"
        let fd = open(lockFile, O_RDWR | O_CLOEXEC)
        try #require(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        defer { close(fd) }
        let pid = Array("\(getpid())\n".utf8)
        try #require(ftruncate(fd, 0) == 0 && pwrite(fd, pid, pid.count, 0) == pid.count)
        let holder = "in use by another smart-sync run (held by process \(getpid()))"

        let list = try restore(s, [edited, "--list"])
        #expect(list.status == 0, "\(list.stderrString)")
        #expect(list.stdoutString.split(separator: "\n").first?.hasPrefix("kept") == true, "\(list.stdoutString)")
        #expect(list.stdoutString.contains("generation 1"), "\(list.stdoutString)")
        #expect(list.stderrString.contains(holder), "\(list.stderrString)")
        #expect(list.stderrString.contains("listed as it stands, without waiting"), "\(list.stderrString)")
        #expect(!list.stderrString.contains("killed run may have left"), "\(list.stderrString)")

        let json = try restore(s, [edited, "--list", "--json"])
        #expect(json.status == 0, "\(json.stderrString)")
        let events = try json.stdoutString.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(events.contains { $0["event"] as? String == "version" })
        #expect(events.contains { ($0["message"] as? String)?.contains(holder) == true }, "\(json.stdoutString)")

        let refused = try restore(s, [edited])
        #expect(refused.status == 7 && refused.stderrString.contains(holder), "\(refused.stderrString)")
    }
}
