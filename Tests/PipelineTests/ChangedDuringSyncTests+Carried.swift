import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

extension ChangedDuringSyncTests {
    /// Review rev6: the operator's things made after the scan (while the blobs are fetched) in directories that hold
    /// nothing of theirs at scan time reach the new target through the runner's real scan and carrier: a new file, a
    /// hard link, a file renamed in from another directory, an empty directory, and a chmod of a quiet directory.
    @Test func operatorsThingsMadeAfterTheScanAreCarried() async throws {
        let repo = try GitFixture()
        for d in ["p", "q", "r", "s", "t/u"] { try repo.write(d + "/f.nix", d + "\n") }
        try repo.write("z.nix", "a\n")
        let a = try repo.commit("A")
        try repo.write("z.nix", "b\n")
        let b = try repo.commit("B")
        try repo.write("z.nix", "c\n")
        let c = try repo.commit("C")
        try repo.write("z.nix", "d\n")
        let d = try repo.commit("D")
        let dirs = try TemporaryDirectory(prefix: "changed-during-carry")
        let target = dirs.appending("target")
        let store = try ObjectStore(root: dirs.appending("store"))
        let state = try StateStore(root: dirs.appending("state"))
        let local = try await LocalGitSource(path: repo.path)
        var first = SyncRunner(source: local, store: store, state: state)
        (first.applyMode, first.keepGenerations) = (.stagedSwitch, 1)
        _ = try await first.sync(.init(ref: a, target: target))
        _ = try await first.sync(.init(ref: b, target: target))
        _ = try await first.sync(.init(ref: c, target: target))  // a spare to recycle
        try Data("elsewhere\n".utf8).write(to: URL(fileURLWithPath: dirs.appending("outside")))
        sleep(2)  // every directory well before the next scan's tick
        let during: @Sendable () throws -> Void = {
            try Data("new\n".utf8).write(to: URL(fileURLWithPath: target + "/p/new"))
            guard link(dirs.appending("outside"), target + "/q/linked") == 0 else { throw SmartSyncError.io("link", path: "q") }
            guard rename(target + "/r/f.nix", target + "/s/moved") == 0 else { throw SmartSyncError.io("rename", path: "s") }
            guard mkdir(target + "/t/u/empty", 0o755) == 0 else { throw SmartSyncError.io("mkdir", path: "t/u") }
            guard chmod(target + "/t", 0o750) == 0 else { throw SmartSyncError.io("chmod", path: "t") }
        }
        var runner = SyncRunner(source: EditingSource(base: local, during: during), store: store, state: state)
        (runner.applyMode, runner.keepGenerations) = (.stagedSwitch, 1)
        let outcome = try await runner.sync(.init(ref: d, target: target))
        #expect(outcome.applied?.recycled == true)
        #expect(TestFiles.read(target + "/z.nix") == "d\n")
        #expect(TestFiles.lstat(target + "/p/new") != nil, "a file made after the scan")
        #expect(TestFiles.lstat(target + "/q/linked") != nil, "a hard link made after the scan")
        #expect(TestFiles.lstat(target + "/s/moved") != nil, "a file renamed in after the scan")
        #expect(TestFiles.lstat(target + "/t/u/empty") != nil, "an empty directory made after the scan")
        #expect(TestFiles.lstat(target + "/t").map { $0.st_mode & 0o7777 } == 0o750)
        dirs.remove()
    }
}
