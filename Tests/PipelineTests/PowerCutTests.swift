import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A power cut (`xfs_io -x -c shutdown`: the file system stops without flushing its log, so what was not synced is
/// lost) around the staged switch, on a loop-mounted image holding the store, the state and the target: the intent,
/// the outgoing generation and the journal are written unsynced before the stage's `syncfs` (ARCHITECTURE, "One sync
/// before the exchange"), and the next run must still find the target wholly old or wholly new, and record which.
@Suite(.serialized) struct PowerCutTests {
    private struct Stop: Error {}

    @Test(arguments: [LoopFileSystem.Kind.ext4, .xfs], ["prepared", "after-exchange"])
    func aPowerCutAroundTheSwitchIsRecovered(kind: LoopFileSystem.Kind, point: String) async throws {
        guard let fs = try LoopFileSystem.forTest(kind, megabytes: kind == .xfs ? 320 : 64) else { return }
        let repo = try GitFixture()
        var commits: [String] = []
        for v in ["a", "b"] {
            try repo.write("conf.nix", "\(v)\n")
            if v == "b" { try repo.remove("dir/a.nix") }
            try repo.write("dir/\(v).nix", "\(v)\n")
            commits.append(try repo.commit(v))
        }
        let target = fs.appending("target")
        func runner() async throws -> SyncRunner {
            SyncRunner(
                source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: fs.appending("store")),
                state: try StateStore(root: fs.appending("state")))
        }
        _ = try await runner().sync(.init(ref: commits[0], target: target))

        var cut = try await runner()
        let sidecar = SwitchLayout(target: target).sidecar
        cut.checkpoint = {
            guard $0 == point else { return }
            // Another writer's fsync on the file system commits its log, the renames of the unsynced journal and
            // intent with it but not their bytes: they come back empty (ext4's delayed allocation, XFS's size update
            // at I/O completion).
            if point == "prepared" { FileSystem.syncDirectory(sidecar) }
            throw Stop()
        }
        // Stopped there (after the exchange the error says the switch stands): the power goes before anything else.
        await #expect(throws: (any Error).self) { _ = try await cut.sync(.init(ref: commits[1], target: target)) }
        try fs.cutPowerAndRemount()

        let next = try await runner()
        let layout = SwitchLayout(target: target)
        if point == "prepared" {
            #expect(TestFiles.lstat(layout.journal)?.st_size == 0, "the cut kept the journal's rename, not its bytes")
            // Nothing changed the target before the cut: the old tree, the old state, after recovery.
            try next.state.recoverSwitch(target: target, store: next.store)
            #expect(TestFiles.read(target + "/conf.nix") == "a\n")
            #expect(TestFiles.exists(target + "/dir/a.nix") && !TestFiles.exists(target + "/dir/b.nix"))
            #expect(try next.state.load(target: target)?.commit.hex == commits[0])
            #expect(TestFiles.lstat(layout.journal) == nil && TestFiles.lstat(layout.stage) == nil)
            let outcome = try await next.sync(.init(ref: commits[1], target: target))
            #expect(outcome.switched)
        } else {
            // The exchange was durable before the cut (the journal and the intent synced before it, the target's
            // parent after it): the next run records the new tree.
            try next.state.recoverSwitch(target: target, store: next.store)
            #expect(try next.state.load(target: target)?.commit.hex == commits[1])
            #expect(TestFiles.lstat(layout.journal) == nil)
        }
        #expect(TestFiles.read(target + "/conf.nix") == "b\n")
        #expect(TestFiles.exists(target + "/dir/b.nix") && !TestFiles.exists(target + "/dir/a.nix"))
        #expect(try next.state.load(target: target)?.commit.hex == commits[1])
        #expect(try next.state.loadIntent(target: target) == nil)
    }
}
