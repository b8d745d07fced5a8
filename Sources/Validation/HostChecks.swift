import Glibc

/// `kind = "kvm"`: `/dev/kvm` (under the root) exists and is a character device. A warning by default: VMs still
/// run without it, slowly. Not fixable: it needs VT-x/AMD-V enabled in the firmware and the kvm module.
public struct KVMCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .kvm }
    public var device: String

    public init(device: String = "/dev/kvm", common: CheckCommon? = nil) {
        self.device = device
        self.common = common ?? CheckCommon(id: "kvm", title: "KVM device")
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        let hint = "enable VT-x/AMD-V in the firmware and load kvm-intel or kvm-amd (boot.kernelModules)"
        guard let st = FileInfo.following(context.hostPath(device)) else {
            return .warn("\(device) is missing: \(hint)")
        }
        guard st.st_mode & S_IFMT == S_IFCHR else {
            return .warn("\(device) is \(FileInfo.typeName(st)), not a character device: \(hint)")
        }
        return .pass("\(device) is a character device")
    }
}

/// `kind = "tool"`: commands are on the `PATH`. Not fixable: install them (`environment.systemPackages`).
public struct ToolCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .tool }
    public var names: [String]

    public init(names: [String], common: CheckCommon? = nil) {
        self.names = names
        self.common = common ?? CheckCommon(id: "tool:\(names.joined(separator: ","))", title: "tools on PATH")
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        let missing = names.filter { context.findTool($0) == nil }
        guard missing.isEmpty else {
            return .fail(
                "not on PATH: \(missing.joined(separator: ", ")); install \(missing.count == 1 ? "it" : "them") (environment.systemPackages)",
                details: missing)
        }
        return .pass("on PATH: \(names.joined(separator: ", "))")
    }
}

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
            return .fail("statvfs failed for \(probe): \(String(cString: strerror(errno)))")
        }
        let freeMB = Int64(fs.f_bavail) * Int64(fs.f_frsize) / (1024 * 1024)
        let minimum = minFreeMB ?? context.defaults.minFreeMB
        guard freeMB >= minimum else {
            return .fail(
                "\(freeMB) MiB free on the file system of \(probe), below \(minimum) MiB; free some space (nix-collect-garbage -d)"
            )
        }
        return .pass("\(freeMB) MiB free (at least \(minimum) MiB required)")
    }
}
