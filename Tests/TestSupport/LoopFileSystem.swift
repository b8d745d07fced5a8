import Foundation

/// A real file system mounted for a test: an image file formatted with `mkfs.xfs`, `mkfs.btrfs` or `mkfs.ext4` and
/// loop-mounted, or a tmpfs. Needs root (CI runs as root); unmounted and removed when the last reference goes away.
public final class LoopFileSystem: Sendable {
    /// The kinds of file system a test can ask for.
    public enum Kind: String, Sendable, CaseIterable {
        case xfs, btrfs, ext4, tmpfs
    }

    public let kind: Kind
    /// Where it is mounted.
    public let mountPoint: String
    private let directory: TemporaryDirectory

    private init(kind: Kind, mountPoint: String, directory: TemporaryDirectory) {
        self.kind = kind
        self.mountPoint = mountPoint
        self.directory = directory
    }

    /// `mountPoint + "/" + component`.
    public func appending(_ component: String) -> String { mountPoint + "/" + component }

    /// Makes and mounts a file system of `kind` (`options` go to its `mkfs`, e.g. `["-O", "^filetype"]` for an ext4
    /// whose `readdir` reports `DT_UNKNOWN`), or returns why it cannot here (not root, no loop device, no mkfs).
    public static func make(_ kind: Kind, megabytes: Int = 320, options: [String] = []) throws
        -> Result<LoopFileSystem, Unavailable>
    {
        guard geteuid() == 0 else { return .failure(Unavailable("mounting a \(kind) file system needs root")) }
        let directory = try TemporaryDirectory(prefix: "fs-\(kind)")
        let mountPoint = directory.appending("mnt")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount: ProcessResult
        if kind == .tmpfs {
            mount = try ProcessRunner.run(
                "/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", mountPoint], check: false)
        } else {
            let tool = "/sbin/mkfs.\(kind.rawValue)"
            guard FileManager.default.isExecutableFile(atPath: tool) else {
                return .failure(
                    Unavailable(
                        "\(tool) is not installed (Debian: \(kind == .ext4 ? "e2fsprogs" : "\(kind.rawValue)-progs"))"))
            }
            let image = directory.appending("image")
            try ProcessRunner.run("/usr/bin/truncate", ["-s", "\(megabytes)M", image])
            let quiet = kind == .ext4 ? ["-q", "-F"] : ["-q", "-f"]
            let mkfs = try ProcessRunner.run(tool, quiet + options + [image], check: false)
            guard mkfs.status == 0 else { return .failure(Unavailable("\(tool) failed: \(mkfs.stderrString)")) }
            mount = try ProcessRunner.run("/bin/mount", ["-o", "loop", image, mountPoint], check: false)
        }
        guard mount.status == 0 else {
            return .failure(Unavailable("mounting a \(kind) file system failed: \(mount.stderrString)"))
        }
        return .success(LoopFileSystem(kind: kind, mountPoint: mountPoint, directory: directory))
    }

    /// Cuts the power, as far as this file system can tell: `xfs_io -x -c shutdown` (GOINGDOWN without a flush of
    /// its log: what was not synced is lost, as in a power cut), then unmounts and mounts the image again (its log
    /// replayed). Every descriptor open on it must be closed by then. Not for a tmpfs.
    public func cutPowerAndRemount() throws {
        try ProcessRunner.run("/usr/sbin/xfs_io", ["-x", "-c", "shutdown", mountPoint])
        try ProcessRunner.run("/bin/umount", [mountPoint])
        try ProcessRunner.run("/bin/mount", ["-o", "loop", directory.appending("image"), mountPoint])
    }

    /// Why a file system could not be made.
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    deinit {
        _ = try? ProcessRunner.run("/bin/umount", [mountPoint], check: false)
    }
}
