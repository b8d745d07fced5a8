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
        let a = try repo.commit("A", writing: ["z.nix": "a\n"])
        let b = try repo.commit("B", writing: ["z.nix": "b\n"])
        let c = try repo.commit("C", writing: ["z.nix": "c\n"])
        let d = try repo.commit("D", writing: ["z.nix": "d\n"])
        // C's sync leaves a spare to recycle.
        let s = try await Synced(repo, to: [a, b, c], mode: (.stagedSwitch, 1), prefix: "changed-during-carry")
        let (dirs, target) = (s.dirs, s.target)
        try Data("elsewhere\n".utf8).write(to: URL(fileURLWithPath: dirs.appending("outside")))
        sleep(2)  // every directory well before the next scan's tick
        let runner = s.runner {
            try Data("new\n".utf8).write(to: URL(fileURLWithPath: target + "/p/new"))
            func check(_ rc: Int32, _ call: String, _ path: String) throws {
                if rc != 0 { throw SmartSyncError.io(call, path: path) }
            }
            try check(link(dirs.appending("outside"), target + "/q/linked"), "link", "q")
            try check(rename(target + "/r/f.nix", target + "/s/moved"), "rename", "s")
            try check(mkdir(target + "/t/u/empty", 0o755), "mkdir", "t/u")
            try check(chmod(target + "/t", 0o750), "chmod", "t")
        }
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
