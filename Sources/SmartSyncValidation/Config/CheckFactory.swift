import SmartSyncCore

/// Builds checks from `[[check]]` tables, and the built-in hypervisor profile.
enum CheckFactory {
    /// One `[[check]]` table → a check. Every kind accepts `id`, `title` and `severity` besides its own keys.
    static func make(_ table: TOMLTable, file: String) throws -> any Check {
        guard let kindValue = table["kind"] else {
            throw SmartSyncError(
                .invalidArgument,
                "\(file):\(table.position.line): [[check]] has no 'kind'",
                hint: "add kind = \"...\" (one of \(kindList))")
        }
        guard let kindName = kindValue.stringValue, let kind = CheckKind(rawValue: kindName) else {
            throw SmartSyncError(
                .invalidArgument,
                "\(file):\(table.position(of: "kind").line): unknown check kind "
                    + "\(kindValue.stringValue.map { "'\($0)'" } ?? kindValue.typeName)",
                hint: "use one of \(kindList)"
            )
        }
        let t = CheckTable(table, file: file, kind: kindName)
        let id = try t.string("id")
        let title = try t.string("title")
        let severity = try t.severity()
        func common(_ defaultCheck: any Check) -> CheckCommon {
            CheckCommon(id: id ?? defaultCheck.id, title: title ?? defaultCheck.title, severity: severity)
        }
        var check: any Check
        switch kind {
        case .directory:
            let c = DirectoryCheck(
                path: try t.requiredString("path", "the directory, relative to the target"), mode: try t.mode("mode"))
            check = DirectoryCheck(path: c.path, mode: c.mode, common: common(c))
        case .file:
            let c = FileCheck(
                path: try t.requiredString("path", "the file, relative to the target"), mode: try t.mode("mode"),
                owner: try ownerString(t, "owner"), group: try ownerString(t, "group"))
            check = FileCheck(path: c.path, mode: c.mode, owner: c.owner, group: c.group, common: common(c))
        case .flake:
            let c = FlakeCheck(
                flake: try t.string("path") ?? "flake.nix", lock: try t.string("lock") ?? "flake.lock",
                requireLock: try t.bool("require_lock") ?? false)
            check = FlakeCheck(flake: c.flake, lock: c.lock, requireLock: c.requireLock, common: common(c))
        case .executable:
            let c = ExecutableCheck(
                glob: try t.requiredString("glob", "the files that must be executable, e.g. \"scripts/*.sh\""))
            check = ExecutableCheck(glob: c.glob, common: common(c))
        case .userConfig, .systemConfig, .network:
            let paths = try t.strings("paths") ?? t.strings("path") ?? []
            let any = try t.strings("any") ?? []
            guard !paths.isEmpty || !any.isEmpty else {
                throw t.error(nil, "the key 'paths' (all must exist) or 'any' (one must exist) is missing")
            }
            let c = PresenceCheck(kind: kind, paths: paths, any: any, contains: try t.string("contains"))
            check = PresenceCheck(kind: kind, paths: paths, any: any, contains: c.contains, common: common(c))
        case .nixFeatures:
            let c = NixFeaturesCheck(
                file: try t.string("file") ?? "/etc/nix/nix.conf",
                features: try t.strings("features") ?? ["nix-command", "flakes"])
            check = NixFeaturesCheck(file: c.file, features: c.features, common: common(c))
        case .kvm:
            let c = KVMCheck(device: try t.string("device") ?? "/dev/kvm")
            check = KVMCheck(device: c.device, common: common(c))
        case .tool:
            let c = ToolCheck(
                names: try t.requiredStrings("names", "the commands that must be on PATH, e.g. [\"git\", \"nix\"]"))
            check = ToolCheck(names: c.names, common: common(c))
        case .integrity:
            check = IntegrityCheck(common: common(IntegrityCheck()))
        case .ownership:
            let c = OwnershipCheck(
                path: try t.string("path") ?? ".", glob: try t.string("glob"), owner: try ownerString(t, "owner"),
                group: try ownerString(t, "group"), allowWritable: try t.bool("writable_ok") ?? false)
            check = OwnershipCheck(
                path: c.path, glob: c.glob, owner: c.owner, group: c.group, allowWritable: c.allowWritable,
                common: common(c))
        case .diskSpace:
            let minimum = try t.integer("min_free_mb")
            if let minimum, minimum < 0 { throw t.error("min_free_mb", "'min_free_mb' must not be negative") }
            let c = DiskSpaceCheck(path: try t.string("path") ?? ".", minFreeMB: minimum)
            check = DiskSpaceCheck(path: c.path, minFreeMB: c.minFreeMB, common: common(c))
        }
        try t.finish()
        return check
    }

    /// `owner`/`group` as a name or a number.
    private static func ownerString(_ t: CheckTable, _ key: String) throws -> String? {
        if let n = t.table[key]?.integerValue {
            _ = try t.integer(key)
            return String(n)
        }
        return try t.string(key)
    }

    static var kindList: String { CheckKind.allCases.map(\.rawValue).joined(separator: ", ") }
}

/// The checks run when the config has no `[[check]]` (or sets `builtin = true`): what
/// `validate_hypervisor_install.sh` checked, for the Hyper-NixOS layout.
public enum BuiltinChecks {
    public static func hypervisor() -> [any Check] {
        [
            DirectoryCheck(path: ".", common: CheckCommon(id: "directory:target", title: "the target directory")),
            DirectoryCheck(path: "modules", mode: 0o755),
            DirectoryCheck(path: "scripts", mode: 0o755),
            FileCheck(path: "flake.nix"),
            FileCheck(path: "configuration.nix"),
            FlakeCheck(),
            ExecutableCheck(glob: "scripts/*.sh"),
            PresenceCheck(
                kind: .userConfig, paths: ["configuration.nix"],
                any: ["modules/core/users.nix", "modules/users.nix", "users.nix"], contains: "users.users"),
            PresenceCheck(
                kind: .systemConfig, any: ["hardware-configuration.nix", "/etc/nixos/hardware-configuration.nix"],
                contains: "fileSystems"),
            NixFeaturesCheck(),
            KVMCheck(),
            PresenceCheck(
                kind: .network, any: ["modules/network", "modules/network.nix", "modules/core/network.nix"]),
            ToolCheck(names: ["git", "nix", "nixos-rebuild"]),
            ToolCheck(
                names: ["virsh", "qemu-img"],
                common: CheckCommon(id: "tool:virtualization", title: "virtualization tools on PATH", severity: .warn)),
            IntegrityCheck(),
            OwnershipCheck(),
            DiskSpaceCheck(),
        ]
    }
}
