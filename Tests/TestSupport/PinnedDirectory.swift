import Foundation

/// A directory that cannot be removed, even by root: a small tmpfs mounted on it (`rmdir` of a mount point fails
/// with `EBUSY`). Tests put one inside a kept generation so that pruning it fails for real.
public enum PinnedDirectory {
    /// Mounts a 1 MiB tmpfs on `path` (created when missing). Throws, saying why, when the kernel refuses (the tests
    /// that use it need root, as CI runs them).
    public static func pin(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let r = try ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", path], check: false)
        guard r.status == 0 else {
            throw TestSupportError(
                description:
                    "cannot mount a tmpfs at \(path) (\(r.stderrString)); this test needs root or CAP_SYS_ADMIN")
        }
    }

    /// Unmounts every mount point at or below `directory`, deepest first, wherever a rename moved it.
    public static func unpinAll(under directory: String) {
        for point in mountPoints(under: directory).sorted(by: { $0.count > $1.count }) {
            if (try? ProcessRunner.run("/bin/umount", [point], check: false))?.status != 0 {
                _ = try? ProcessRunner.run("/bin/umount", ["-l", point], check: false)
            }
        }
    }

    /// The mount points at or below `directory` (from `/proc/self/mounts`).
    public static func mountPoints(under directory: String) -> [String] {
        let table = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return table.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            let point = fields[1].replacingOccurrences(of: "\\040", with: " ")
            return point == directory || point.hasPrefix(prefix) ? point : nil
        }
    }
}
