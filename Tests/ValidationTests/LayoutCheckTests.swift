import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncValidation
import Testing

@Suite("directory, file, executable, user/system/network configuration")
struct LayoutCheckTests {
    @Test func directory() throws {
        let f = try Fixture()
        let check = DirectoryCheck(path: "modules", mode: 0o750)
        #expect(try check.run(f.context()).status == .fail)
        let report = runFixing(check, try f.context())
        #expect(report.before?.status == .fail && report.before?.fixable == true)
        #expect(report.fix?.actions == ["created \(f.target)/modules (mode 0750)"])
        #expect(report.result.status == .pass)
        #expect(try f.mode(f.target + "/modules") == 0o750)
        // Wrong mode: fixed by chmod.
        chmod(f.target + "/modules", 0o777)
        let again = runFixing(check, try f.context())
        #expect(again.before?.message.contains("mode 0777, expected 0750") == true)
        #expect(again.result.status == .pass)
        // A file where a directory belongs: not fixable.
        try f.write("scripts", "x")
        let blocked = runFixing(DirectoryCheck(path: "scripts"), try f.context())
        #expect(blocked.result.status == .fail && blocked.fix == nil)
        #expect(blocked.result.message.contains("not a directory"))
    }

    @Test func file() throws {
        let f = try Fixture()
        let check = FileCheck(path: "flake.nix", mode: 0o644, owner: "root", group: "0")
        let missing = try check.run(f.context())
        #expect(missing.status == .fail && !missing.fixable)
        let path = try f.write("flake.nix", Samples.flake, mode: 0o664)
        chown(path, 1234, 1234)
        let report = runFixing(check, try f.context())
        #expect(report.before?.message.contains("mode 0664, expected 0644") == true)
        #expect(report.before?.message.contains("owner uid 1234") == true)
        #expect(report.fix?.actions.contains("chown root \(path)") == true)
        #expect(report.result.status == .pass, "\(report.result.message)")
        #expect(try f.mode(path) == 0o644)
    }

    @Test func missingFileIsRestoredFromTheStore() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        _ = try f.recordSync()
        try FileManager.default.removeItem(atPath: f.target + "/flake.nix")
        let report = runFixing(FileCheck(path: "flake.nix"), try f.context(synced: true))
        #expect(report.before?.message.contains("--fix restores it from the store") == true)
        #expect(report.fix?.actions.first?.hasPrefix("restored \(f.target)/flake.nix (linked from the store") == true)
        #expect(report.result.status == .pass)
        #expect(try String(contentsOfFile: f.target + "/flake.nix", encoding: .utf8) == Samples.flake)
    }

    @Test func executable() throws {
        let f = try Fixture()
        let check = ExecutableCheck(glob: "scripts/*.sh")
        #expect(try check.run(f.context()) == .pass("no files match scripts/*.sh"))
        try f.write("scripts/a.sh", "#!/bin/sh\n", mode: 0o755)
        try f.write("scripts/b.sh", "#!/bin/sh\n", mode: 0o640)
        try f.write("scripts/sub/c.sh", "#!/bin/sh\n", mode: 0o644)  // not matched: * stays in one directory
        try f.write("scripts/notes.txt", "x", mode: 0o644)
        let result = try check.run(f.context())
        #expect(result.status == .fail && result.details == ["scripts/b.sh"] && result.fixable)
        let report = runFixing(check, try f.context())
        #expect(report.fix?.actions == ["chmod 0750 \(f.target)/scripts/b.sh"])
        #expect(report.result.status == .pass)
        #expect(try f.mode(f.target + "/scripts/sub/c.sh") == 0o644)
        #expect(try ExecutableCheck(glob: "scripts/**.sh").run(f.context()).details == ["scripts/sub/c.sh"])
    }

    /// A glob's literal leading directory that is a planted symlink (or a file) is an error, never "no files match":
    /// the walk below it used to read it as nothing there and pass.
    @Test func executableGlobBehindAPlantedSymlinkOrFileThrows() throws {
        let f = try Fixture()
        let outside = f.root + "/outside"
        try f.write("/outside/sub/evil.sh", "#!/bin/sh\n", mode: 0o644)
        try f.write("/outside/top.sh", "#!/bin/sh\n", mode: 0o644)
        try FileManager.default.createSymbolicLink(atPath: f.target + "/scripts", withDestinationPath: outside)
        for glob in ["scripts/sub/*.sh", "scripts/*.sh", "scripts/sub/evil.sh"] {
            let error = #expect(throws: SmartSyncError.self, "\(glob)") {
                try ExecutableCheck(glob: glob).run(f.context())
            }
            #expect(error?.code == .unsafePath, "\(glob): \(String(describing: error))")
            #expect(error?.message.contains("scripts") == true, "\(glob): \(String(describing: error))")
        }
        // A file where the glob's directory would be: an error too, not a pass on nothing.
        try FileManager.default.removeItem(atPath: f.target + "/scripts")
        try f.write("scripts", "not a directory")
        for glob in ["scripts/sub/*.sh", "scripts/*.sh"] {
            #expect(throws: SmartSyncError.self, "\(glob)") { try ExecutableCheck(glob: glob).run(f.context()) }
        }
        // A base that simply does not exist still passes on nothing.
        try FileManager.default.removeItem(atPath: f.target + "/scripts")
        #expect(
            try ExecutableCheck(glob: "scripts/sub/*.sh").run(f.context()) == .pass("no files match scripts/sub/*.sh"))
        #expect(try ExecutableCheck(glob: "scripts/*.sh").run(f.context()) == .pass("no files match scripts/*.sh"))
        #expect(try f.mode(outside + "/sub/evil.sh") == 0o644 && f.mode(outside + "/top.sh") == 0o644)
    }

    @Test func chmodOfAHardlinkSparesTheStoreObject() throws {
        let f = try Fixture()
        try f.write("scripts/menu.sh", "#!/bin/sh\n", mode: 0o644)
        let manifest = try f.recordSync()
        let id = try #require(manifest["scripts/menu.sh"]?.id)
        let store = try #require(try f.context(synced: true).store)
        let report = runFixing(ExecutableCheck(glob: "scripts/*.sh"), try f.context())
        #expect(report.result.status == .pass)
        #expect(report.fix?.actions.first?.contains("as a private copy") == true)
        #expect(try f.mode(store.path(for: id)) == 0o444)
        #expect(try f.mode(f.target + "/scripts/menu.sh") == 0o555)
    }

    @Test func userSystemAndNetworkConfiguration() throws {
        let f = try Fixture()
        let user = PresenceCheck(
            kind: .userConfig, paths: ["configuration.nix"], any: ["modules/core/users.nix"], contains: "users.users")
        let system = PresenceCheck(
            kind: .systemConfig, any: ["hardware-configuration.nix", "/etc/nixos/hardware-configuration.nix"])
        let network = PresenceCheck(kind: .network, any: ["modules/network"], contains: "networking.")
        for check in [user, system, network] {
            let r = try check.run(f.context())
            #expect(r.status == .fail && !r.fixable, "\(r.message)")
        }
        try f.write("configuration.nix", "{ }\n")
        try f.write("modules/core/users.nix", "{ users.groups.x = { }; }\n")
        #expect(try user.run(f.context()).message.contains("mentions 'users.users'"))
        try f.write("modules/core/users.nix", "{ users.users.op.isNormalUser = true; }\n")
        #expect(try user.run(f.context()).status == .pass)
        try f.write("/etc/nixos/hardware-configuration.nix", "{ }\n")  // under the host root
        #expect(try system.run(f.context()).status == .pass)
        try f.write("modules/network/bridge.nix", "{ networking.bridges.br0.interfaces = [ ]; }\n")
        #expect(try network.run(f.context()).status == .pass)
    }

    @Test func presenceRestoresFromTheStore() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        _ = try f.recordSync()
        try FileManager.default.removeItem(atPath: f.target + "/hardware-configuration.nix")
        let report = runFixing(
            PresenceCheck(kind: .systemConfig, paths: ["hardware-configuration.nix"]), try f.context(synced: true))
        #expect(report.before?.fixable == true)
        #expect(report.fix?.actions.count == 1)
        #expect(report.result.status == .pass)
    }
}
