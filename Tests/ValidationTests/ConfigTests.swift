import SmartSyncCore
import SmartSyncValidation
import Testing

@Suite("config file")
struct ConfigTests {
    private func error(_ text: String) -> String {
        do {
            _ = try ValidationConfig.parse(text, file: "/etc/smart-sync/config.toml")
            return "parsed"
        } catch let e as SmartSyncError {
            return e.message
        } catch {
            return "\(error)"
        }
    }

    @Test func everyKindFromTheConfig() throws {
        let config = try ValidationConfig.parse(
            """
            target = "/srv/hv"
            [defaults]
            min_free_mb = 10
            owner = "root"
            group = 0
            [[check]]
            kind = "directory"
            path = "modules"
            mode = "0755"
            [[check]]
            kind = "file"
            path = "flake.nix"
            mode = "0644"
            owner = 0
            [[check]]
            kind = "flake"
            require_lock = true
            [[check]]
            kind = "executable"
            glob = "scripts/*.sh"
            [[check]]
            kind = "user-config"
            paths = ["configuration.nix"]
            contains = "users.users"
            [[check]]
            kind = "system-config"
            any = ["hardware-configuration.nix"]
            [[check]]
            kind = "nix-features"
            [[check]]
            kind = "kvm"
            severity = "fail"
            [[check]]
            kind = "network"
            path = "modules/network"
            [[check]]
            kind = "tool"
            names = ["git", "nix", "virsh"]
            severity = "warn"
            id = "tools"
            title = "operator tools"
            [[check]]
            kind = "integrity"
            [[check]]
            kind = "ownership"
            writable_ok = true
            [[check]]
            kind = "disk-space"
            min_free_mb = 2048
            """, file: "c.toml")
        #expect(config.target == "/srv/hv")
        #expect(config.defaults.minFreeMB == 10 && config.defaults.group == "0")
        #expect(config.checks.map(\.kind) == CheckKind.allCases)
        let tool = try #require(config.checks[9] as? ToolCheck)
        #expect(tool.names == ["git", "nix", "virsh"] && tool.common.severity == .warn && tool.id == "tools")
        #expect(tool.title == "operator tools")
        #expect((config.checks[0] as? DirectoryCheck)?.mode == 0o755)
        #expect((config.checks[12] as? DiskSpaceCheck)?.minFreeMB == 2048)
        #expect(config.checks[7].common.severity == .fail)
    }

    @Test func builtinProfileWhenThereAreNoChecks() throws {
        let config = try ValidationConfig.parse("[defaults]\nmin_free_mb = 5\n[sync]\nref = \"main\"\n", file: "c.toml")
        #expect(config.checks.count == BuiltinChecks.hypervisor().count)
        #expect(Set(config.checks.map(\.kind)) == Set(CheckKind.allCases))
        let both = try ValidationConfig.parse(
            "builtin = true\n[[check]]\nkind = \"kvm\"\nid = \"kvm2\"\n", file: "c.toml")
        #expect(both.checks.count == BuiltinChecks.hypervisor().count + 1)
    }

    @Test func errorsNameFileLineAndKey() {
        #expect(error("[[check]]\nkind = \"dirctory\"\n").contains("config.toml:2: unknown check kind 'dirctory'"))
        #expect(
            error("a = 1\n[[check]]\nkind = \"directory\"\n").contains(
                "config.toml:2: [[check]] kind = \"directory\": the key 'path' is missing"))
        #expect(error("[[check]]\npath = \"x\"\n").contains("config.toml:1: [[check]] has no 'kind'"))
        #expect(
            error("[[check]]\nkind = \"tool\"\nnames = [\"git\"]\nname = \"x\"\n").contains(
                "config.toml:4: [[check]] kind = \"tool\": unknown key 'name'"))
        #expect(error("[[check]]\nkind = \"directory\"\npath = \"m\"\nmode = \"999\"\n").contains("config.toml:4:"))
        #expect(
            error("[[check]]\nkind = \"tool\"\nnames = 3\n").contains(
                "config.toml:3: [[check]] kind = \"tool\": 'names' must be a string or an array of strings"))
        #expect(error("[[check]]\nkind = \"kvm\"\nseverity = \"error\"\n").contains("config.toml:3:"))
        #expect(error("target = \"relative\"\n").contains("config.toml:1: 'target' must be an absolute path"))
        #expect(error("[defaults]\nmin_free_mb = \"lots\"\n").contains("config.toml:2: 'min_free_mb'"))
        #expect(error("check = 1\n").contains("config.toml:1:"))
        #expect(
            error("[[check]]\nkind = \"kvm\"\n[[check]]\nkind = \"kvm\"\n").contains("two checks have the id 'kvm'"))
        #expect(error("[[check]\nkind = \"kvm\"\n").contains("config.toml:1:9: expected ']]'"))
    }
}
