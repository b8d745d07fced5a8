import Foundation
import TestSupport
import Testing

/// A small tmpfs mounted for one test. Mounting needs root (or a user namespace); when the kernel refuses, the
/// test fails and says why rather than passing silently.
final class TmpfsMount {
    let path: String
    private var mounted = false

    init(at path: String, size: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let r = try ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path], check: false)
        guard r.status == 0 else {
            throw ScenarioError(
                "cannot mount a tmpfs at \(path) (\(r.stderrString.trimmingCharacters(in: .whitespacesAndNewlines))); "
                    + "the disk-full tests need root or CAP_SYS_ADMIN"
            )
        }
        mounted = true
    }

    /// Grows (or shrinks) the file system, keeping its content.
    func resize(_ size: String) throws {
        let r = try ProcessRunner.run("/bin/mount", ["-o", "remount,size=\(size)", path], check: false)
        guard r.status == 0 else { throw ScenarioError("remount of \(path) failed: \(r.stderrString)") }
    }

    /// Bytes free.
    func free() throws -> Int {
        let attributes = try FileManager.default.attributesOfFileSystem(forPath: path)
        return (attributes[.systemFreeSize] as? Int) ?? 0
    }

    func unmount() {
        guard mounted else { return }
        if (try? ProcessRunner.run("/bin/umount", [path], check: false))?.status != 0 {
            _ = try? ProcessRunner.run("/bin/umount", ["-l", path], check: false)
        }
        mounted = false
    }

    deinit { unmount() }
}

/// A full disk under the store or the target: a clear error, the target intact, nothing left that breaks the
/// next run, and a rerun that completes once there is space.
@Suite("disk full", .serialized)
struct DiskFullEndToEndTests {
    private func randomBytes(_ n: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    /// Every path under `root` whose name starts with one of `prefixes`.
    private func leftovers(under root: String, _ prefixes: [String]) -> [String] {
        let names = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
        return names.filter { p in prefixes.contains { ((p as NSString).lastPathComponent).hasPrefix($0) } }
    }

    @Test func aFullStoreFailsClearlyAndLeavesTheTargetAsItWas() throws {
        let s = try Scenario()
        let mount = try TmpfsMount(at: s.store, size: "2m")
        defer { withExtendedLifetime(s) { mount.unmount() } }
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        // B needs a blob larger than the store's free space.
        try s.repo.write("images/big.bin", randomBytes(3_000_000))
        let b = try s.repo.commit("B")

        let r = try s.run("sync")
        #expect(r.status != 0)
        #expect(r.stderrString.contains("disk is full"), "\(r.stderrString)")
        #expect(r.stderrString.contains(s.store + "/"), "the message should name the store: \(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        let sidecar = s.dirs.appending(".target.smart-sync")
        #expect(!FileManager.default.fileExists(atPath: sidecar + "/stage"))
        #expect(leftovers(under: s.target, [".smart-sync-tmp-"]).isEmpty)

        // With space, the next run completes (resuming the kept partial download).
        try mount.resize("16m")
        try s.sync()
        try s.expectTargetEqualsArchive(b)
    }

    @Test func aFullTargetFileSystemFailsTheSwitchCleanly() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.repo.write("images/medium.bin", randomBytes(600_000))
        let b = try s.repo.commit("B")
        let mount = try TmpfsMount(at: s.dirs.appending("small"), size: "4m")
        defer { withExtendedLifetime(s) { mount.unmount() } }
        let target = mount.path + "/target"

        let first = try s.run("sync", ["--ref", a], target: target)
        try #require(first.status == 0, "\(first.stderrString)")
        // The store is on another file system, so the stage is made of copies; leave less room than B needs.
        let filler = mount.path + "/filler"
        let room = try mount.free() - 300_000
        try #require(room > 0)
        try Data(count: room).write(to: URL(fileURLWithPath: filler))

        let r = try s.run("sync", ["--ref", b], target: target)
        #expect(r.status != 0)
        #expect(r.stderrString.contains("disk is full"), "\(r.stderrString)")
        #expect(r.stderrString.contains(mount.path + "/"), "the message should name the path: \(r.stderrString)")
        #expect(try DirectorySnapshot(of: target) == s.archiveSnapshot(a))
        #expect(!FileManager.default.fileExists(atPath: mount.path + "/.target.smart-sync/stage"))
        #expect(leftovers(under: mount.path, [".smart-sync-tmp-", "stage"]).isEmpty)

        // Free the space: the rerun completes.
        try FileManager.default.removeItem(atPath: filler)
        let again = try s.run("sync", ["--ref", b], target: target)
        #expect(again.status == 0, "\(again.stderrString)")
        #expect(try DirectorySnapshot(of: target) == s.archiveSnapshot(b))
    }
}
