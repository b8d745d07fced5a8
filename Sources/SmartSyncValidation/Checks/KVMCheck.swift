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
