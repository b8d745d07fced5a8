import Foundation
import Glibc
import SmartSyncCore
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A spare's file kept on the scan's word (the inode the scan saw at that path of the target): only while its `lstat`
/// is still what the scan saw, on the same device.
extension StageRecyclerTests {
    /// A write or a `chmod` of a file the plan leaves unchanged, made after the scan (while the pack arrives) and
    /// before the stage is made: the file is the spare's too (one inode), so the recycler must not keep it on the
    /// scan's word. The run either stops with nothing switched or lands the commit's file; it never reports the commit
    /// applied with the edit in it.
    @Test(arguments: ["write", "chmod"], [nil] + StageRecyclerTests.splits)
    func anEditBetweenTheScanAndTheStageIsNotKeptOnTheScansWord(_ edit: String, _ split: StageRecycler.Split?)
        async throws
    {
        let t = try await Setup(mode: .hardlink)
        if let split { t.runner.recycleSplit = split }  // the check made by a worker
        // The file two levels down, so both splits hand its directory to a worker (`d2`, or `d2/deep`).
        try t.repo.write("d2/deep/f2.nix", "{ a = 2; }\n")
        t.commits.append(try t.repo.commit("D"))  // C and the file: 3
        try t.repo.write("d1/f1.nix", "{ a = 1; e = 1; }\n")
        t.commits.append(try t.repo.commit("E"))  // 4
        try t.repo.write("d3/f3.nix", "{ a = 3; f = 1; }\n")
        t.commits.append(try t.repo.commit("F"))  // 5
        for i in [3, 4, 5] { try await t.sync(i) }  // the spare holds D's tree, the target F's
        let file = t.target + "/d2/deep/f2.nix"
        #expect(inode(t.spare + "/d2/deep/f2.nix") == inode(file), "hard links of one store object")
        t.runner.checkpoint = { name in
            guard name == "recycled" else { return }  // the spare is the stage now, not yet walked
            if edit == "write" {
                chmod(file, 0o644)
                try Data("{ a = 7; }\n".utf8).write(to: URL(fileURLWithPath: file))  // the same size, in place
                chmod(file, 0o444)
            } else {
                chmod(file, 0o666)
            }
        }
        do {
            let outcome = try await t.sync(3)
            #expect(outcome.applied != nil)
            try t.expectTarget(3)
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "{ a = 2; }\n")
            var st = stat()
            #expect(
                lstat(file, &st) == 0 && st.st_mode & 0o7777 == 0o444, "mode \(String(st.st_mode & 0o7777, radix: 8))")
        } catch {
            // Stopped before the switch: the target is still F's tree (C's d0/f4.nix), the edit the operator's.
            #expect(try String(contentsOfFile: t.target + "/d0/f4.nix", encoding: .utf8) == "{ a = 9; }\n", "\(error)")
        }
    }

    /// A file system mounted inside the spare numbers its inodes on its own: a file there with the inode number the
    /// scan saw in the target is another file. Kept on the number alone, the target got "IMPOSTER!!" in place of the
    /// commit's file (found by review).
    @Test func aFileOfAnotherDeviceWithTheScannedInodeNumberIsNotKept() async throws {
        let outer: LoopFileSystem
        switch try LoopFileSystem.make(.tmpfs, megabytes: 64) {
        case .success(let made): outer = made
        case .failure(let why):
            Issue.record("no tmpfs here: \(why)")
            return
        }
        let t = try await Setup(mode: .hardlink, under: outer.mountPoint)
        for i in [0, 1, 2] { try await t.sync(i) }  // the spare holds A's tree, the target C's
        let wanted = inode(t.target + "/d2/f2.nix")
        #expect(inode(t.spare + "/d2/f2.nix") == wanted)
        let inner = t.spare + "/d2"
        try ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", inner])
        defer { Self.unmountEverything(below: outer.mountPoint) }
        var made = false
        for k in 0..<(Int(wanted) + 64) {  // a tmpfs numbers its files from 1 up
            let path = inner + "/n\(k)"
            try Data("IMPOSTER!!\n".utf8).write(to: URL(fileURLWithPath: path))  // the size of "{ a = 2; }\n"
            if inode(path) == wanted {
                #expect(rename(path, inner + "/f2.nix") == 0)
                made = true
                break
            }
        }
        try #require(made, "no file of the inner tmpfs got inode \(wanted)")
        chmod(inner + "/f2.nix", 0o444)
        var times = [Seal.modificationTime, Seal.modificationTime]
        utimensat(AT_FDCWD, inner + "/f2.nix", &times, AT_SYMLINK_NOFOLLOW)

        let outcome = try await t.sync(0)
        #expect(outcome.applied?.recycled == true)
        #expect(try String(contentsOfFile: t.target + "/d2/f2.nix", encoding: .utf8) == "{ a = 2; }\n")
    }

    /// Lazily unmounts every file system mounted below `root` (deepest first), so `root`'s own can go.
    static func unmountEverything(below root: String) {
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        let points = mounts.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 1, fields[1].hasPrefix(root + "/") else { return nil }
            return String(fields[1])
        }
        for point in points.sorted(by: { $0.count > $1.count }) {
            _ = try? ProcessRunner.run("/bin/umount", ["-l", point], check: false)
        }
    }
}
