import Foundation
import TestSupport
import Testing

/// `nix/module.nix` and `flake.nix`: every `.nix` file parses, and the module, evaluated with `nix-instantiate`
/// against the stand-in lib in `Tests/Nix` (no nixpkgs, no network), writes a config file that TOML and smart-sync
/// read as meant and units that `systemd-analyze verify` accepts, with the hardening of the shipped unit.
@Suite("NixOS module")
struct NixModuleTests {
    private struct Evaluation {
        var config: String?
        var units: [String: String]
    }

    private static var nixMissing: String? {
        DeploymentTools.missing(DeploymentTools.nixInstantiate, package: "nix-bin")
    }

    private func evaluate(_ testCase: String, package: String = "/nix/store/0000-smart-sync") throws -> Evaluation {
        let result = try DeploymentTools.nix([
            "--eval", "--strict", "--json", DeploymentTools.nixTests + "/eval.nix",
            "--argstr", "case", testCase, "--argstr", "package", package,
        ])
        guard result.status == 0 else {
            throw DeploymentTools.Failure(description: "evaluating case \(testCase) failed: \(result.stderrString)")
        }
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any] ?? [:]
        return Evaluation(config: json["config"] as? String, units: json["units"] as? [String: String] ?? [:])
    }

    @Test func everyNixFileParses() throws {
        if let why = Self.nixMissing { return print("skipped: \(why)") }
        let root = SmartSyncBinary.packageRoot
        var files: [String] = []
        let walk = FileManager.default.enumerator(atPath: root)
        while let path = walk?.nextObject() as? String {
            if (path as NSString).lastPathComponent.hasPrefix(".") {
                walk?.skipDescendants()  // .build, .git
            } else if path.hasSuffix(".nix") {
                files.append(path)
            }
        }
        #expect(files.contains("nix/module.nix") && files.contains("flake.nix") && files.contains("Tests/Nix/eval.nix"))
        for file in files {
            let parsed = try DeploymentTools.nix(["--parse", root + "/" + file])
            #expect(parsed.status == 0, "\(file): \(parsed.stderrString)")
        }
    }

    @Test func flakeExposesTheModule() throws {
        if let why = Self.nixMissing { return print("skipped: \(why)") }
        let flake = SmartSyncBinary.packageRoot + "/flake.nix"
        let result = try DeploymentTools.nix([
            "--eval", "--strict", "--json", "--expr",
            "let o = (import \(flake)).outputs { self = o; }; in "
                + "[ (builtins.isFunction o.nixosModules.default) (builtins.attrNames o) ]",
        ])
        #expect(result.status == 0, "\(result.stderrString)")
        #expect(result.output == #"[true,["nixosModules"]]"#)
    }

    /// The config file, read back by Python's tomllib (a second, independent TOML parser): every option lands on
    /// its key, unset ones are left to smart-sync's defaults.
    @Test func configFileHoldsTheTargets() throws {
        if let why = Self.nixMissing { return print("skipped: \(why)") }
        let config = try #require(try evaluate("full").config)
        let scratch = try TemporaryDirectory(prefix: "nix-config")
        let file = scratch.appending("config.toml")
        try Data(config.utf8).write(to: URL(fileURLWithPath: file))
        let read = try ProcessRunner.run(
            "python3",
            ["-c", "import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], 'rb'))))", file],
            check: false)
        #expect(read.status == 0, "\(read.stderrString)\n\(config)")
        let toml = try JSONSerialization.jsonObject(with: Data(read.stdout)) as? [String: Any] ?? [:]
        let store = toml["store"] as? [String: String]
        #expect(store?["path"] == "/var/lib/smart-sync/store" && store?["max_size"] == "20G")
        #expect((toml["sync"] as? [String: String]) == ["link_mode": "auto"])
        let targets = toml["target"] as? [String: [String: Any]] ?? [:]
        #expect(Set(targets.keys) == ["hypervisor", "site"])
        let hypervisor = targets["hypervisor"] ?? [:]
        #expect(hypervisor["repo"] as? String == "example/hypervisor" && hypervisor["source"] == nil)
        #expect(hypervisor["path"] as? String == "/etc/hypervisor" && hypervisor["ref"] as? String == "main")
        #expect(hypervisor["token_file"] as? String == "/run/keys/gh")
        #expect(hypervisor["mirrors"] as? [String] == ["https://mirror.example/hv"])
        #expect(hypervisor["trusted_key"] as? String == "/etc/smart-sync/allowed_signers")
        #expect(hypervisor["require_signed_commits"] as? Bool == true && hypervisor["allow_downgrade"] == nil)
        #expect(hypervisor["allowed_signers"] as? String == "/etc/smart-sync/commit_signers")
        #expect(hypervisor["exclude"] as? [String] == ["secrets/**"] && hypervisor["keep_generations"] as? Int == 3)
        #expect((hypervisor["rebuild"] as? String)?.hasPrefix("systemd-run --wait --pipe") == true)
        #expect(
            (hypervisor["rebuild"] as? String)?.hasSuffix("nixos-rebuild {action} --flake {target}#{hostname}") == true)
        #expect(hypervisor["skip_rebuild"] as? Bool == false && hypervisor["checks"] as? String == "builtin")
        let site = targets["site"] ?? [:]
        #expect(site["source"] as? String == "/srv/git/site" && site["repo"] == nil)
        #expect(site["skip_rebuild"] as? Bool == true && site["rebuild"] == nil)
        #expect(site["transport"] as? String == "pack" && site["link_mode"] as? String == "copy")
        #expect(site["keep_generations"] as? Int == 5, "extraConfig")
        #expect(site["token_file"] == nil && site["interval"] == nil && site["splay"] == nil)
    }

    /// smart-sync's own parser reads the generated file: `[store]` and `[sync]` through gc, `[target.NAME]` through
    /// `validate`.
    @Test func smartSyncReadsTheConfigFile() throws {
        if let why = Self.nixMissing { return print("skipped: \(why)") }
        let config = try #require(try evaluate("full").config)
        let scratch = try TemporaryDirectory(prefix: "nix-config")
        let file = scratch.appending("config.toml")
        try Data(config.utf8).write(to: URL(fileURLWithPath: file))
        let results = [
            try SmartSyncBinary.run(
                ["gc", "--dry-run", "--config", file, "--store", scratch.appending("store"), "--state-dir",
                 scratch.appending("state")], check: false),
            try SmartSyncBinary.run(["validate", "--quick", "--config", file], check: false),
        ]
        // 64: the file is invalid; 4: not found. validate's 1 and 2 are checks of this host failing, not the file.
        #expect(results.allSatisfy { ![64, 4].contains($0.status) }, "\(results.map(\.stderrString))")
    }

    @Test func unitsForEachTarget() throws {
        if let why = Self.nixMissing { return print("skipped: \(why)") }
        let units = try evaluate("full", package: "/nix/store/0000-smart-sync").units
        #expect(
            Set(units.keys) == [
                "smart-sync@.service", "smart-sync@hypervisor.service.d/overrides.conf", "smart-sync@hypervisor.timer",
                "smart-sync@site.service.d/overrides.conf", "smart-sync@site.timer",
            ])
        let template = DeploymentTools.settings(units["smart-sync@.service"] ?? "", section: "Service")
        #expect(
            template.contains {
                $0 == ("ExecStart", "/nix/store/0000-smart-sync/bin/smart-sync ${SMART_SYNC_COMMAND} %i")
            })
        #expect(!template.contains { $0.key == "LoadCredential" })
        let unit = DeploymentTools.settings(units["smart-sync@.service"] ?? "", section: "Unit")
        #expect(unit.contains { $0 == ("X-RestartIfChanged", "false") }, "a switch must not restart a running update")

        let hypervisor = DeploymentTools.settings(
            units["smart-sync@hypervisor.service.d/overrides.conf"] ?? "", section: "Service")
        #expect(
            hypervisor.filter { $0.key == "ReadWritePaths" }.map(\.value) == [
                "-/etc", "-/var/lib/smart-sync/store", "-/var/lib/smart-sync/state",
                "-/var/lib/prometheus/node-exporter",
            ])
        #expect(hypervisor.filter { $0.key == "LoadCredential" }.map(\.value) == ["gh-token:/run/keys/gh"])
        #expect(hypervisor.contains { $0 == ("Environment", "\"SMART_SYNC_COMMAND=update\"") })
        #expect(
            DeploymentTools.settings(units["smart-sync@hypervisor.service.d/overrides.conf"] ?? "", section: "Unit")
                .contains { $0 == ("X-RestartIfChanged", "false") })

        let site = DeploymentTools.settings(units["smart-sync@site.service.d/overrides.conf"] ?? "", section: "Service")
        #expect(site.filter { $0.key == "ReadWritePaths" }.first?.value == "-/srv/www")
        #expect(!site.contains { $0.key == "LoadCredential" })
        #expect(site.contains { $0 == ("Environment", "\"SMART_SYNC_COMMAND=sync\"") })

        let calendar = DeploymentTools.settings(units["smart-sync@hypervisor.timer"] ?? "", section: "Timer")
        #expect(
            calendar.map { "\($0.key)=\($0.value)" } == [
                "OnCalendar=*:0/15", "Persistent=true", "RandomizedDelaySec=5min",
            ])
        let timespan = DeploymentTools.settings(units["smart-sync@site.timer"] ?? "", section: "Timer")
        #expect(
            timespan.map { "\($0.key)=\($0.value)" } == [
                "OnBootSec=10min", "OnUnitActiveSec=10min", "RandomizedDelaySec=1min",
            ])
    }

    @Test func generatedUnitsVerify() throws {
        if let why = Self.nixMissing ?? DeploymentTools.missing(DeploymentTools.systemdAnalyze, package: "systemd") {
            return print("skipped: \(why)")
        }
        let scratch = try TemporaryDirectory(prefix: "nix-units")
        let units = try evaluate("full", package: try DeploymentTools.packageDirectory(in: scratch)).units
        let directory = scratch.appending("units")
        try DeploymentTools.write(units, under: directory)
        let instances = ["hypervisor", "site"].flatMap {
            ["\(directory)/smart-sync@\($0).service", "\(directory)/smart-sync@\($0).timer"]
        }
        let result = try DeploymentTools.verify(instances)
        #expect(result.status == 0, "\(result.stderrString)")
        #expect(!result.stderrString.contains("smart-sync@"), "\(result.stderrString)")
    }

    /// The module's template carries the shipped unit's sandbox, line for line (both are edited by hand).
    @Test func hardeningMatchesTheShippedUnit() throws {
        if let why = Self.nixMissing { return print("skipped: \(why)") }
        let nixos = try evaluate("full").units["smart-sync@.service"] ?? ""
        let dist = try String(contentsOfFile: DeploymentTools.distUnits + "/smart-sync@.service", encoding: .utf8)
        // Where they differ on purpose: the binary's path, NixOS's PATH and NIX_REMOTE, and the token (NixOS passes
        // tokenFile per target).
        let own: Set<String> = ["ExecStart", "Environment", "LoadCredential"]
        func sandbox(_ text: String) -> [String: String] {
            Dictionary(
                DeploymentTools.settings(text, section: "Service").filter { !own.contains($0.key) }
                    .map { ($0.key, DeploymentTools.normalized($0.value)) }, uniquingKeysWith: { $1 })
        }
        #expect(sandbox(nixos) == sandbox(dist))
        #expect(sandbox(dist).count > 20)
    }

    @Test func disabledWritesNothing() throws {
        if let why = Self.nixMissing { return print("skipped: \(why)") }
        let evaluation = try evaluate("disabled")
        #expect(evaluation.config == nil && evaluation.units.isEmpty)
    }

    @Test(arguments: [
        ("repoAndSource", "targets.both: set exactly one of repo and source"),
        ("neitherRepoNorSource", "targets.none: set exactly one of repo and source"),
        ("relativePath", "targets.relative.path' is not of type"),
        ("tokenInStore", "targets.leaky.tokenFile' is not of type `null or string matching /.+' (a path was given)"),
        ("badName", "targets.a.b: a target name may hold only letters, digits"),
        ("unknownOption", "targets.typo.tokenfile' does not exist"),
    ])
    func badDefinitionsAreRefused(testCase: String, message: String) throws {
        if let why = Self.nixMissing { return print("skipped: \(why)") }
        let result = try DeploymentTools.nix([
            "--eval", "--strict", "--json", DeploymentTools.nixTests + "/eval.nix", "--argstr", "case", testCase,
        ])
        #expect(result.status != 0)
        #expect(result.stderrString.contains(message), "\(result.stderrString)")
    }
}
