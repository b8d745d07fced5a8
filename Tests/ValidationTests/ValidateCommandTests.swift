import Foundation
import TestSupport
import Testing

/// The built `smart-sync validate` on a fixture host.
@Suite("smart-sync validate (binary)")
struct ValidateCommandTests {
    private let config = """
        # the checks of this test
        [defaults]
        min_free_mb = 1
        [[check]]
        kind = "directory"
        path = "modules"
        mode = "0755"
        [[check]]
        kind = "executable"
        glob = "scripts/*.sh"
        [[check]]
        kind = "flake"
        [[check]]
        kind = "nix-features"
        [[check]]
        kind = "kvm"
        [[check]]
        kind = "integrity"
        [[check]]
        kind = "disk-space"
        """

    private func validate(_ f: Fixture, _ extra: [String] = [], config: Bool = true) throws -> ProcessResult {
        try SmartSyncBinary.run(
            ["validate", "--root", f.root, "--store", f.tmp.path + "/store", "--state-dir", f.tmp.path + "/state"]
                + (config ? ["--config", f.tmp.path + "/config.toml"] : []) + extra,
            environment: ["PATH": f.bin, "NO_COLOR": "1"], check: false)
    }

    /// `validate --fix` places a restored file as syncs do: by the config's `[sync] link_mode` (it always used
    /// `auto`, a hard link where the file system has no reflinks).
    @Test func aFixRestoresWithTheConfiguredLinkMode() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        let checks = "[sync]\nlink_mode = \"copy\"\n[[check]]\nkind = \"integrity\"\n"
        try Data(checks.utf8).write(to: URL(fileURLWithPath: f.tmp.path + "/config.toml"))
        _ = try f.recordSync()
        let path = f.target + "/modules/core/users.nix"
        try FileManager.default.removeItem(atPath: path)
        let fixed = try validate(f, ["--fix"])
        #expect(fixed.status == 0, "\(fixed.stdoutString)\(fixed.stderrString)")
        #expect(fixed.stdoutString.contains("restored \(path)"), "\(fixed.stdoutString)")
        var st = stat()
        #expect(lstat(path, &st) == 0)
        #expect(st.st_nlink == 1, "a copy shares no inode with the store")
    }

    @Test func warningsFailuresAndFixes() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        try Data(config.utf8).write(to: URL(fileURLWithPath: f.tmp.path + "/config.toml"))
        try f.write("/etc/nix/nix.conf", "experimental-features = nix-command flakes\n")
        _ = try f.recordSync()
        // Only /dev/kvm is missing: a warning, exit 2.
        let warned = try validate(f)
        #expect(warned.status == 2, "\(warned.stdoutString)\(warned.stderrString)")
        #expect(warned.stdoutString.contains("! warn  kvm"))
        #expect(warned.stdoutString.contains("+ pass  integrity"))

        // Failures: exit 1.
        try FileManager.default.createDirectory(atPath: f.root + "/dev", withIntermediateDirectories: true)
        symlink("/dev/null", f.root + "/dev/kvm")
        try FileManager.default.removeItem(atPath: f.target + "/modules")
        try f.write("scripts/menu.sh", "#!/bin/sh\necho menu\n", mode: 0o644)
        try f.write("/etc/nix/nix.conf", "max-jobs = 2\n")
        let failed = try validate(f)
        #expect(failed.status == 1, "\(failed.stdoutString)")
        #expect(failed.stdoutString.contains("x fail  directory      modules is missing; --fix creates it"))
        #expect(failed.stdoutString.contains("x fail  integrity"))
        #expect(failed.stdoutString.contains("validate \(f.target): 3 passed, 0 warnings, 4 failed"))

        // --quick skips integrity.
        let quick = try validate(f, ["--quick"])
        #expect(quick.stdoutString.contains("- skip  integrity"))

        // --fix: everything repaired and reported, exit 0.
        let fixed = try validate(f, ["--fix"])
        #expect(fixed.status == 0, "\(fixed.stdoutString)\(fixed.stderrString)")
        #expect(fixed.stdoutString.contains("    fixed: created \(f.target)/modules (mode 0755)"))
        #expect(
            fixed.stdoutString.contains("    fixed: added nix-command flakes to experimental-features")
                || fixed.stdoutString.contains("    fixed: appended experimental-features"))
        #expect(fixed.stdoutString.contains("    fixed: restored \(f.target)/modules/core/users.nix"))
        #expect(fixed.stdoutString.contains("fixed"))
        #expect(try validate(f).status == 0)

        // --json: NDJSON check events and a summary.
        let json = try validate(f, ["--json"])
        #expect(json.status == 0)
        let events = try json.stdoutString.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(events.count == 8)
        #expect(events.dropLast().allSatisfy { $0["event"] as? String == "check" && $0["status"] as? String == "pass" })
        let summary = try #require(events.last)
        #expect(summary["event"] as? String == "summary" && summary["passed"] as? Int == 7)
        #expect(summary["exitCode"] as? Int == 0)
    }

    @Test func aBadConfigIsAUsageErrorNamingTheLine() throws {
        let f = try Fixture()
        try Data("[[check]]\nkind = \"kvm\"\nfoo = 1\n".utf8).write(
            to: URL(fileURLWithPath: f.tmp.path + "/config.toml"))
        let result = try validate(f)
        #expect(result.status == 64)
        #expect(result.stderrString.contains("config.toml:3: [[check]] kind = \"kvm\": unknown key 'foo'"))
    }

    @Test func theDefaultConfigIsReadUnderTheRoot() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        try f.write("/etc/smart-sync/config.toml", "target = \"/etc/hypervisor\"\n[[check]]\nkind = \"flake\"\n")
        let result = try validate(f, ["--json"], config: false)
        #expect(result.status == 0, "\(result.stdoutString)\(result.stderrString)")
        #expect(result.stdoutString.contains(#""config":"\#(f.root)/etc/smart-sync/config.toml""#))
        #expect(result.stdoutString.contains(#""kind":"flake""#))
    }
}
