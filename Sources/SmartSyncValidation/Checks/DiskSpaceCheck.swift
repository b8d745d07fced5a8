import Glibc

/// `kind = "disk-space"`: the file system holding the target has at least `min_free_mb` MiB available to
/// unprivileged users (`statvfs` `f_bavail`). Not fixable.
public struct DiskSpaceCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .diskSpace }
    /// Relative to the target, or absolute under the root; the nearest existing ancestor is measured.
    public var path: String
    /// nil: the config's `[defaults] min_free_mb`.
    public var minFreeMB: Int64?

    public init(path: String = ".", minFreeMB: Int64? = nil, common: CheckCommon? = nil) {
        self.path = path
        self.minFreeMB = minFreeMB
        self.common = common ?? CheckCommon(id: "disk-space", title: "free disk space")
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        var probe = context.resolve(path)
        while FileInfo.following(probe) == nil && probe != "/" && probe != "." { probe = FileInfo.parent(probe) }
        var fs = statvfs()
        guard statvfs(probe, &fs) == 0 else {
            let reason = String(cString: strerror(errno))  // before the message is built (it allocates)
            return .fail("statvfs failed for \(probe): \(reason)")
        }
        let freeMB = Int64(fs.f_bavail) * Int64(fs.f_frsize) / (1024 * 1024)
        let minimum = minFreeMB ?? context.defaults.minFreeMB
        guard freeMB >= minimum else {
            return .fail(
                "\(freeMB) MiB free on the file system of \(probe), below \(minimum) MiB; free some "
                    + "space (nix-collect-garbage -d)"
            )
        }
        return .pass("\(freeMB) MiB free (at least \(minimum) MiB required)")
    }
}
