import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

/// `--link-mode` on real file systems: reflinks on loop-mounted XFS and btrfs (no inode shared with the store, so
/// an in-place edit cannot reach it), hard links on ext4 and tmpfs, copies anywhere, and a clear refusal where
/// `reflink` alone was asked and the file system cannot.
@Suite("link modes on real file systems", .serialized)
struct LinkModeEndToEndTests {
    /// A scenario whose target, store and state live on a freshly made `kind` file system; nil (with the reason
    /// printed) where this machine cannot make one.
    private func scenario(on kind: LoopFileSystem.Kind) throws -> (Scenario, LoopFileSystem)? {
        switch try LoopFileSystem.make(kind) {
        case .success(let fs):
            let s = try Scenario()
            s.root = fs.mountPoint
            return (s, fs)
        case .failure(let why):
            print("skipped on this machine: \(why)")
            return nil
        }
    }

    private func identity(_ path: String) throws -> (device: Int, inode: Int) {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.systemNumber] as? Int ?? -1, attributes[.systemFileNumber] as? Int ?? -1)
    }

    private func objectPath(_ s: Scenario, _ path: String) throws -> String {
        let id = ObjectID.blob(Array(try Data(contentsOf: URL(fileURLWithPath: s.target + "/" + path))))
        return s.store + "/objects/" + id.hex.prefix(2) + "/" + id.hex.dropFirst(2)
    }

    private func placed(_ summary: [String: Any]) -> (hardlinks: Int, reflinks: Int, copies: Int) {
        let placed = summary["placed"] as? [String: Any] ?? [:]
        return (placed["hardlinks"] as? Int ?? -1, placed["reflinks"] as? Int ?? -1, placed["copies"] as? Int ?? -1)
    }

    @Test(arguments: [LoopFileSystem.Kind.xfs, .btrfs])
    func autoReflinksWhereTheFileSystemSharesExtents(_ kind: LoopFileSystem.Kind) throws {
        guard let (s, fs) = try scenario(on: kind) else { return }
        defer { withExtendedLifetime(fs) {} }
        let a = try Fixtures.commitA(s.repo)
        let summary = try s.sync(["--link-mode", "auto"])
        try s.expectTargetEqualsArchive(a)
        let how = placed(summary)
        #expect(how.reflinks >= 10 && how.hardlinks == 0 && how.copies == 0, "\(kind): \(summary)")
        let object = try objectPath(s, "flake.nix")
        #expect(try identity(object).inode != identity(s.target + "/flake.nix").inode, "\(kind): an inode is shared")
        let shared = try ProcessRunner.run("/usr/sbin/filefrag", ["-v", s.target + "/data/blob.bin"], check: false)
        #expect(shared.stdoutString.contains("shared"), "\(kind): no shared extents: \(shared.stdoutString)")

        // An in-place write reaches the target file only: the store object keeps its bytes and its seal.
        let fd = open(s.target + "/flake.nix", O_WRONLY | O_TRUNC)
        try #require(fd >= 0)
        _ = "{ edited = true; }\n".withCString { write(fd, $0, strlen($0)) }
        close(fd)
        let id = ObjectID(hex: String(object.split(separator: "/").suffix(2).joined()))!
        #expect(ObjectID.blob(Array(try Data(contentsOf: URL(fileURLWithPath: object)))) == id)
        let healed = try s.sync(["--link-mode", "auto"])
        #expect((healed["kept"] as? [Any])?.count == 1)
        try s.expectTargetEqualsArchive(a)
        #expect(!FileManager.default.fileExists(atPath: s.store + "/quarantine"), "\(kind): nothing was damaged")
    }

    @Test(arguments: [LoopFileSystem.Kind.ext4, .tmpfs])
    func autoHardlinksWhereReflinksAreNotPossible(_ kind: LoopFileSystem.Kind) throws {
        guard let (s, fs) = try scenario(on: kind) else { return }
        defer { withExtendedLifetime(fs) {} }
        let a = try Fixtures.commitA(s.repo)
        let summary = try s.sync(["--link-mode", "auto"])
        try s.expectTargetEqualsArchive(a)
        let how = placed(summary)
        // modules/net/dup-b.nix holds the same blob as dup-a.nix: it gets an inode of its own (a copy).
        #expect(how.hardlinks >= 10 && how.reflinks == 0 && how.copies == 1, "\(kind): \(summary)")
        #expect(try identity(objectPath(s, "flake.nix")).inode == identity(s.target + "/flake.nix").inode)
    }

    @Test func copyGivesEveryFileDataOfItsOwn() throws {
        guard let (s, fs) = try scenario(on: .xfs) else { return }
        defer { withExtendedLifetime(fs) {} }
        let a = try Fixtures.commitA(s.repo)
        let summary = try s.sync(["--link-mode", "copy"])
        try s.expectTargetEqualsArchive(a)
        let how = placed(summary)
        #expect(how.copies >= 10 && how.hardlinks == 0 && how.reflinks == 0, "\(summary)")
        let frag = try ProcessRunner.run("/usr/sbin/filefrag", ["-v", s.target + "/data/blob.bin"], check: false)
        #expect(!frag.stdoutString.contains("shared"), "a copy shares extents: \(frag.stdoutString)")
    }

    @Test func reflinkAloneIsRefusedClearlyWhereTheFileSystemCannot() throws {
        guard let (s, fs) = try scenario(on: .tmpfs) else { return }
        defer { withExtendedLifetime(fs) {} }
        _ = try Fixtures.commitA(s.repo)
        let r = try s.run("sync", ["--link-mode", "reflink"])
        #expect(r.status != 0)
        #expect(r.stderrString.contains("--link-mode reflink") && r.stderrString.contains("cannot share extents"))
        #expect(r.stderrString.contains("--link-mode auto"), "no way out named: \(r.stderrString)")
        #expect(!FileManager.default.fileExists(atPath: s.target), "a target appeared after a failed stage")
    }

    @Test func theConfigFileSetsTheLinkModeAndAFlagWins() throws {
        guard let (s, fs) = try scenario(on: .tmpfs) else { return }
        defer { withExtendedLifetime(fs) {} }
        _ = try Fixtures.commitA(s.repo)
        let config = s.dirs.appending("config.toml")
        try "[sync]\nlink_mode = \"copy\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let copied = placed(try s.sync(["--config", config]))
        #expect(copied.copies >= 10 && copied.hardlinks == 0, "\(copied)")

        try FileManager.default.removeItem(atPath: s.target)
        try FileManager.default.removeItem(atPath: s.stateDir)
        let flagged = placed(try s.sync(["--config", config, "--link-mode", "hardlink"]))
        #expect(flagged.hardlinks >= 10, "the flag did not win over the file: \(flagged)")

        try "[sync]\nlink_mode = \"symlink\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let bad = try s.run("sync", ["--config", config])
        #expect(bad.status != 0)
        #expect(
            bad.stderrString.contains(config + ":2") && bad.stderrString.contains("link_mode"), "\(bad.stderrString)")
    }
}
