import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A target that is a mount point of its own (here a tmpfs): renaming it fails with EBUSY, and the stage, in the
/// sidecar on the parent's file system, cannot take the carried files' hard links (EXDEV). The staged switch sees it
/// before staging and applies in place, saying why.
@Suite(.serialized) struct MountedTargetTests {
    /// Mounts on `dir/target` a tmpfs (`bind` false: another file system) or a directory of the same file system
    /// (`bind`: the same `st_dev`, another mount); false (and says why) where that cannot be done.
    private func mountTarget(_ dir: TemporaryDirectory, bind: Bool = false) throws -> Bool {
        guard geteuid() == 0 else {
            print("skipped on this machine: mounting needs root")
            return false
        }
        mkdir(dir["target"], 0o755)
        if bind {
            mkdir(dir["elsewhere"], 0o755)
            try ProcessRunner.run("/bin/mount", ["--bind", dir["elsewhere"], dir["target"]])
        } else {
            try ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", dir["target"]])
        }
        return true
    }

    @Test(arguments: [false, true])
    func aMountedTargetIsAppliedInPlaceWithANotice(bind: Bool) throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        defer { StageRecyclerTests.unmountEverything(below: dir.path) }
        guard try mountTarget(dir, bind: bind) else { return }
        let target = dir["target"]
        let store = try ObjectStore(root: dir["store"])
        try TestFiles.write(target + "/old.txt", "old")
        try TestFiles.write(target + "/untracked.txt", "mine")
        let tree = FixtureTree(files: [("new.txt", .regular, "new"), ("old.txt", .regular, "old")])
        let plan = try tree.firstSyncPlan(of: target, store: store)
        let notices = Locked<[String]>([])
        var applier = StagedSwitchApplier()
        applier.notice = { text in notices.withLock { $0.append(text) } }
        let (_, method) = try applier.applyReporting(plan, listing: tree.listing, store: store, target: target)
        #expect(method == .inPlace)
        #expect(TestFiles.read(target + "/new.txt") == "new")
        #expect(TestFiles.read(target + "/untracked.txt") == "mine")
        #expect(TestFiles.read(dir["elsewhere/new.txt"]) == (bind ? "new" : nil), "still the mount")
        let said = notices.withLock { $0 }
        #expect(said.count == 1 && said.first?.contains("is a mount point") == true, "\(said)")
        #expect(TestFiles.lstat(dir[".target.smart-sync/stage"]) == nil)
    }

    /// `update`'s checks run on the stage before the switch; a target applied in place has no stage, so with checks
    /// set it is refused before anything changes (it used to be written unchecked), whether the checks would pass or
    /// fail, and the error names the target and why.
    @Test(arguments: [false, true])
    func aMountedTargetWithStageChecksIsRefusedUntouched(checksPass: Bool) throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        defer { StageRecyclerTests.unmountEverything(below: dir.path) }
        guard try mountTarget(dir) else { return }
        let target = dir["target"]
        let store = try ObjectStore(root: dir["store"])
        try TestFiles.write(target + "/old.txt", "old")
        let tree = FixtureTree(files: [("new.txt", .regular, "new")])
        let plan = try tree.firstSyncPlan(of: target, store: store)
        let checked = Locked(0)
        var applier = StagedSwitchApplier()
        applier.validateStage = { _ in
            checked.withLock { $0 += 1 }
            if !checksPass { throw SmartSyncError(.checksFailed, "the checks failed") }
        }
        do {
            _ = try applier.applyReporting(plan, listing: tree.listing, store: store, target: target)
            Issue.record("a mounted target was applied with no checks")
        } catch let error as SmartSyncError {
            #expect(error.code == .refused, "\(error)")
            #expect(error.message.contains(target) && error.message.contains("mount point"), "\(error.message)")
            #expect(error.hint?.contains("smart-sync sync") == true, "\(error.hint ?? "")")
        }
        #expect(checked.withLock { $0 } == 0)
        #expect(TestFiles.read(target + "/new.txt") == nil)
        #expect(TestFiles.read(target + "/old.txt") == "old")
    }

    /// A mount made after the check (or one it cannot see): the exchange's EBUSY means "cannot exchange" too.
    @Test func anExchangeRefusedAsBusyIsUnsupported() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        defer { StageRecyclerTests.unmountEverything(below: dir.path) }
        guard try mountTarget(dir) else { return }
        let layout = SwitchLayout(target: dir["target"])
        try FileSystem.makePrivateDirectory(layout.sidecar, followingSymlink: false)
        mkdir(layout.stage, 0o755)
        do {
            try TreeSwitch(layout: layout).exchange(
                incoming: layout.stage, sequence: 1, outgoingState: nil, consumed: nil, checkpoint: { _ in })
            Issue.record("a mount point was exchanged")
        } catch let unsupported as TreeSwitch.ExchangeUnsupported {
            #expect(unsupported.errno == EBUSY)
        }
        #expect(TestFiles.lstat(layout.journal) == nil)
        #expect(try Rollback.generations(target: layout.target).isEmpty)
    }
}
