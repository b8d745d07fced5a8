import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The kept-versions log, `--keep-local` planning and `Restore` on a local target (no source).
@Suite struct LocalVersionsTests {
    private func record(_ path: TreePath, _ content: String, time: Int64 = 1, mode: FileMode = .regular) -> KeptVersion
    {
        KeptVersion(timeNs: time, mode: mode, id: blob(content), replacedBy: blob("commit"), path: path)
    }

    @Test func recordsKeepModeAndOwnerAndRecordsOfEarlierReleasesStillRead() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let log = KeptVersionLog(path: dir["state/kept"])
        // A line release 0.1 wrote: five fields, no metadata.
        try FileSystem.makeDirectories(dir["state"])
        let old = "17 100644 \(blob("old").hex) \(blob("commit").hex) dir/old%20name.nix\n"
        try FileSystem.writeFileAtomically(dir["state/kept"], Array(old.utf8))
        var secret = record("secret.nix", "s", time: 18)
        secret.metadata = FileMetadata(permissions: 0o4750, owner: 65534, group: 100)
        try log.append([secret])
        let all = try log.load()
        #expect(all.count == 2)
        #expect(all[0].path == "dir/old name.nix" && all[0].metadata == nil && all[0].id == blob("old"))
        #expect(all[1].metadata == FileMetadata(permissions: 0o4750, owner: 65534, group: 100))
        #expect(KeptVersion(line: "18 100644 \(blob("s").hex) - 99999:1:1 x") == nil, "permissions beyond 07777")
    }

    /// A rollback's record says so (`restore --list`: "replaced by the rollback to generation N"), for a commit or the
    /// tree found before the first sync; records of earlier releases (five and six fields) still read as a sync's or
    /// a restore's; a damaged rollback field is refused, not read as another commit.
    @Test func aRollbacksRecordSaysSoAndEarlierRecordsStillRead() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let log = KeptVersionLog(path: dir["state/kept"])
        try FileSystem.makeDirectories(dir["state"])
        let earlier =
            "17 100644 \(blob("five").hex) \(blob("commit").hex) five.nix\n"
            + "18 100644 \(blob("six").hex) \(blob("commit").hex) 644:0:0 six.nix\n"
            + "19 100644 \(blob("restored").hex) - 644:0:0 restored.nix\n"
        try FileSystem.writeFileAtomically(dir["state/kept"], Array(earlier.utf8))
        var toCommit = record("back.nix", "b", time: 20)
        toCommit.rollbackTo = 4
        var toFound = record("found.nix", "f", time: 21)
        toFound.rollbackTo = 0
        toFound.replacedBy = nil
        try log.append([toCommit, toFound])
        let all = try log.load()
        #expect(all.count == 5)
        #expect(all[0].rollbackTo == nil && all[0].replacedBy == blob("commit") && all[1].metadata != nil)
        #expect(all[0].replacement == "replaced by the sync to \(blob("commit").abbreviated())")
        #expect(all[2].replacement == "replaced by a restore")
        #expect(all[3] == toCommit && all[4] == toFound, "a rollback's record does not round-trip")
        let commit = blob("commit").abbreviated()
        #expect(all[3].replacement == "replaced by the rollback to generation 4 (commit \(commit))")
        #expect(all[4].replacement == "replaced by the rollback to generation 0 (the tree found before the first sync)")
        #expect(toCommit.line().contains(" rollback:4:\(blob("commit").hex) "))
        for damaged in ["rollback:x:\(blob("c").hex)", "rollback:4", "rollback:-1:-", "rollback:4:zz"] {
            #expect(KeptVersion(line: "22 100644 \(blob("d").hex) \(damaged) - d.nix") == nil, "\(damaged)")
        }
    }

    @Test func logRoundTripsAwkwardPathsSkipsDamagedLinesAndStaysBounded() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let log = KeptVersionLog(path: dir["state/kept"], limit: 5)
        let odd: TreePath = "dir/with space/100% ünï\ncødé\t.nix"
        try log.append([record("a.nix", "1"), record(odd, "2", time: 2)])
        var all = try log.load()
        #expect(all.map(\.path) == ["a.nix", odd])
        #expect(all[1].id == blob("2") && all[1].replacedBy == blob("commit") && all[1].timeNs == 2)

        // A crash mid-append leaves a line without its newline: it is skipped, and the next record starts anew.
        let fd = open(dir["state/kept"], O_WRONLY | O_APPEND)
        _ = "123 100644 abc".withCString { write(fd, $0, 14) }
        close(fd)
        #expect(try log.load().count == 2)
        try log.append([KeptVersion(timeNs: 3, mode: .symlink, id: blob("3"), replacedBy: nil, path: "ln")])
        all = try log.load()
        #expect(all.map(\.path) == ["a.nix", odd, "ln"])
        #expect(all[2].replacedBy == nil && all[2].mode == .symlink)
        #expect(try log.versions(of: "a.nix").map(\.id) == [blob("1")])

        // Bounded: the oldest records go.
        for i in 0..<6 { try log.append([record("a.nix", "v\(i)", time: Int64(10 + i))]) }
        all = try log.load()
        #expect(all.count == 5)
        #expect(try log.versions(of: "a.nix").first?.id == blob("v5"))
        #expect(!all.contains { $0.path == odd })
    }

    @Test func keepLocalTurnsLocalVersionsIntoConflictsThatAreNotFetchedOrClaimed() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let t = dir.path
        try TestFiles.write(t + "/edited.nix", "operator's edit")
        try TestFiles.write(t + "/ours.nix", "v1")
        chmod(t + "/ours.nix", 0o444)  // as a sync installs it: anything else is an operator's change
        try TestFiles.write(t + "/never-ours.nix", "found here")
        let local = try TargetScanner().scan(target: t).tree
        var previous = Manifest()
        previous["edited.nix"] = Manifest.Entry(mode: .regular, id: blob("synced"))
        previous["ours.nix"] = Manifest.Entry(mode: .regular, id: blob("v1"))
        var tree = FixtureTree()
        tree.files = [
            ("edited.nix", .regular, "v2 edited"), ("ours.nix", .regular, "v2"), ("never-ours.nix", .regular, "tree"),
        ]
        let planner = Planner(keepLocal: true)
        let plan = planner.plan(listing: tree.listing, previous: previous, local: local)
        #expect(plan.kind("edited.nix") == .conflict)
        #expect(plan.kind("never-ours.nix") == .conflict)
        #expect(plan.change("edited.nix")?.note?.contains("kept local version (--keep-local)") == true)
        #expect(plan.kind("ours.nix") == .modify)  // what the last sync put there: replaced as usual
        #expect(Set(plan.blobsNeeded.map(\.id)) == [blob("v2")])
        let manifest = try planner.manifest(after: plan, previous: previous)
        #expect(manifest["edited.nix"] == nil && manifest["never-ours.nix"] == nil)
        #expect(manifest["ours.nix"]?.id == blob("v2"))
        // Without the flag, both are replaced.
        let plain = Planner().plan(listing: tree.listing, previous: previous, local: local)
        #expect(plain.kind("edited.nix") == .modify && plain.kind("never-ours.nix") == .modify)
    }

    @Test func stateRemembersWhatKeepLocalLeftOutWithoutChangingOtherStates() throws {
        var manifest = Manifest()
        manifest["a"] = Manifest.Entry(mode: .regular, id: blob("a"))
        var state = TargetState(target: "/t", commit: blob("c"), ref: "main", appliedAtNs: 7, manifest: manifest)
        let plain = state.encoded()
        #expect(TargetState(encoded: plain) == state)
        state.keptLocal["b"] = Manifest.Entry(mode: .executable, id: blob("b"))
        let withKept = state.encoded()
        #expect(withKept.count > plain.count)
        #expect(TargetState(encoded: withKept) == state)
        #expect(TargetState(encoded: withKept)?.keptLocal["b"]?.mode == .executable)
    }

    @Test func pathsOutsideTheTargetAreRefused() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let target = dir["target"]
        try TestFiles.makeDirectories(target)
        #expect(try Restore.relativePath("a/./b.nix", target: target) == "a/b.nix")
        #expect(try Restore.relativePath(target + "/a/b.nix", target: target) == "a/b.nix")
        for bad in ["../x", "a/../../x", "/etc/passwd", target + "-other/x", target + "/../x"] {
            #expect(throws: SmartSyncError.self, "\(bad)") { try Restore.relativePath(bad, target: target) }
            do {
                _ = try Restore.relativePath(bad, target: target)
            } catch let e as SmartSyncError {
                #expect(e.code == .unsafePath, "\(bad): \(e)")
            }
        }
        // A symlinked parent is refused before anything is read or written.
        try TestFiles.makeDirectories(dir["outside"])
        symlink(dir["outside"], target + "/evil")
        let store = try ObjectStore(root: dir["store"])
        let state = try StateStore(root: dir["state"])
        try KeptVersionLog(state: state, target: target).append([record("evil/x", "payload")])
        try store.insert(Array("payload".utf8))
        do {
            _ = try Restore.run(path: "evil/x", target: target, store: store, state: state)
            Issue.record("restore through a symlink succeeded")
        } catch let e as SmartSyncError {
            #expect(e.code == .unsafePath, "\(e)")
        }
        #expect(TestFiles.lstat(dir["outside/x"]) == nil)
    }

    @Test func restoreWritesAPrivateCopyAndKeepsWhatItReplaces() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let target = dir["target"]
        let store = try ObjectStore(root: dir["store"])
        let state = try StateStore(root: dir["state"])
        // The last sync put "synced" at conf.nix (a read-only hardlink of the store object); the operator's
        // edit was kept before it.
        try store.insert(Array("synced".utf8))
        try TestFiles.makeDirectories(target)
        link(store.path(for: blob("synced")), target + "/conf.nix")
        var manifest = Manifest()
        manifest["conf.nix"] = Manifest.Entry(mode: .regular, id: blob("synced"))
        try state.save(TargetState(target: target, commit: blob("c"), ref: "main", appliedAtNs: 1, manifest: manifest))
        try store.insert(Array("my edit\n".utf8))
        let log = KeptVersionLog(state: state, target: target)
        try log.append([record("conf.nix", "my edit\n")])

        let out = try Restore.run(path: "conf.nix", target: target, store: store, state: state)
        #expect(!out.unchanged && out.saved == nil)  // what it replaced is the sync's: not recorded again
        #expect(TestFiles.read(target + "/conf.nix") == "my edit\n")
        let st = try #require(TestFiles.lstat(target + "/conf.nix"))
        #expect(st.st_mode & 0o7777 == 0o644 && st.st_nlink == 1)
        #expect(TestFiles.allPaths(under: target) == ["conf.nix"])  // no temporary left

        // The operator edits the restored file, then restores again: the newer edit is kept first.
        try TestFiles.overwriteInPlace(target + "/conf.nix", "newer edit\n")
        try log.append([record("conf.nix", "my edit\n", time: 5)])
        let again = try Restore.run(path: target + "/conf.nix", target: target, store: store, state: state)
        #expect(again.saved?.id == blob("newer edit\n"))
        #expect(store.contains(blob("newer edit\n")))
        #expect(try log.versions(of: "conf.nix").first?.id == blob("newer edit\n"))
        #expect(TestFiles.read(target + "/conf.nix") == "my edit\n")
        // Already there: nothing written.
        try log.append([record("conf.nix", "my edit\n", time: 9)])
        #expect(try Restore.run(path: "conf.nix", target: target, store: store, state: state).unchanged)
    }

    @Test func aDamagedStoreObjectIsNotRestored() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let target = dir["target"]
        try TestFiles.makeDirectories(target)
        let store = try ObjectStore(root: dir["store"])
        let state = try StateStore(root: dir["state"])
        try store.insert(Array("kept".utf8))
        let object = store.path(for: blob("kept"))
        chmod(object, 0o644)
        try TestFiles.overwriteInPlace(object, "tampered")
        try KeptVersionLog(state: state, target: target).append([record("f", "kept")])
        do {
            _ = try Restore.run(path: "f", target: target, store: store, state: state)
            Issue.record("a damaged object was restored")
        } catch let e as SmartSyncError {
            #expect(e.code == .integrity, "\(e)")
        }
        #expect(TestFiles.lstat(target + "/f") == nil)
    }
}
