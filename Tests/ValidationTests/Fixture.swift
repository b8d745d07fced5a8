import Foundation
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncValidation
import TestSupport
import Testing

/// A fixture host: `<tmp>/root` is the host root, `<tmp>/root/etc/hypervisor` the target, with a store and state
/// directory beside them, and an empty `bin/` as the PATH.
struct Fixture {
    let tmp: TemporaryDirectory
    var root: String { tmp.path + "/root" }
    var target: String { root + "/etc/hypervisor" }
    var bin: String { tmp.path + "/bin" }

    init() throws {
        tmp = try TemporaryDirectory(prefix: "validation")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    }

    /// Writes a file relative to the target (or, with a leading `/`, under the host root).
    @discardableResult
    func write(_ path: String, _ text: String, mode: Int = 0o644) throws -> String {
        let full = path.hasPrefix("/") ? root + path : target + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: full)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: full)
        return full
    }

    /// A small but complete hypervisor tree.
    func writeHypervisorTree() throws {
        try write("flake.nix", Samples.flake)
        try write("flake.lock", Samples.lock)
        try write("configuration.nix", "{ ... }: { imports = [ ./modules/core/users.nix ]; }\n")
        try write("hardware-configuration.nix", "{ ... }: { fileSystems.\"/\" = { device = \"/dev/sda1\"; }; }\n")
        try write("modules/core/users.nix", "{ ... }: { users.users.operator.isNormalUser = true; }\n")
        try write("modules/network/bridge.nix", "{ ... }: { networking.hostName = \"hv\"; }\n")
        try write("scripts/menu.sh", "#!/bin/sh\necho menu\n", mode: 0o755)
    }

    /// A fake tool on the PATH: a shell script.
    @discardableResult
    func tool(_ name: String, _ script: String = "exit 0") throws -> String {
        let path = bin + "/" + name
        try Data("#!/bin/sh\n\(script)\n".utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    func context(quick: Bool = false, synced: Bool = false) throws -> ValidationContext {
        ValidationContext(
            target: target, root: root, searchPath: [bin],
            store: synced ? try ObjectStore(root: tmp.path + "/store") : nil,
            state: synced ? try StateStore(root: tmp.path + "/state") : nil, quick: quick)
    }

    /// Records the target's current files as a sync would: each stored as an object, the target path replaced
    /// by a hardlink of it (0444, executable twin 0555), and a state with the manifest.
    func recordSync() throws -> Manifest {
        let store = try ObjectStore(root: tmp.path + "/store")
        var manifest = Manifest()
        let walker = FileManager.default.enumerator(atPath: target)!
        for case let rel as String in walker {
            let full = target + "/" + rel
            let attributes = try FileManager.default.attributesOfItem(atPath: full)
            guard attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            let executable = ((attributes[.posixPermissions] as? Int) ?? 0) & 0o100 != 0
            let id = try store.insertFile(atPath: full)
            let source = executable ? try store.executablePath(for: id) : store.path(for: id)
            try FileManager.default.removeItem(atPath: full)
            try FileManager.default.linkItem(atPath: source, toPath: full)
            manifest[TreePath(rel)] = Manifest.Entry(mode: executable ? .executable : .regular, id: id)
        }
        let state = try StateStore(root: tmp.path + "/state")
        try state.save(
            TargetState(
                target: target, commit: ObjectID.blob(Array("commit".utf8)), ref: "main", appliedAtNs: 0,
                manifest: manifest))
        return manifest
    }

    func exists(_ rel: String) -> Bool { FileManager.default.fileExists(atPath: target + "/" + rel) }

    func mode(_ full: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: full)[.posixPermissions] as? Int) ?? -1
    }
}

/// Runs `check` with `--fix` semantics and returns the report.
func runFixing(_ check: any Check, _ context: ValidationContext) -> CheckReport {
    Validator.run(check, context, fix: true)
}

enum Samples {
    static let flake = """
        {
          description = "test";
          inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";
          outputs = { self, nixpkgs }: {
            # a comment with { an unbalanced brace
            nixosConfigurations.hv = nixpkgs.lib.nixosSystem {
              modules = [ ./configuration.nix ];
              specialArgs.s = "a string with } and ${"nested ${"interpolation"}"}";
              specialArgs.t = ''
                an indented string with } and ''${escaped} and ${ toString 1 }
              '';
            };
          };
        }

        """

    static let lock = """
        {"nodes": {"nixpkgs": {"locked": {"type": "github"}}, "root": {"inputs": {"nixpkgs": "nixpkgs"}}},
         "root": "root", "version": 7}
        """
}
