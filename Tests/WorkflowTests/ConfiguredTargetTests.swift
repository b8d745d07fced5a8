import SmartSyncCore
import SmartSyncFetch
import SmartSyncPipeline
import SmartSyncValidation
import SmartSyncWorkflow
import Testing

/// The `[target.NAME]` tables of the config file.
@Suite("ConfiguredTarget")
struct ConfiguredTargetTests {
    func parse(_ text: String) throws -> [ConfiguredTarget] {
        try ConfiguredTarget.parseAll(TOMLParser.parse(text, file: "config.toml"), file: "config.toml")
    }

    func error(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "no error"
        } catch let e as SmartSyncError {
            return e.text
        } catch {
            return "\(error)"
        }
    }

    @Test func everyKeyOfTheSchemaIsReadAndExposed() throws {
        let targets = try parse(
            """
            [target.zeta]
            source = "/srv/git/zeta"
            path = "/etc/zeta"

            [target.hypervisor]
            repo = "owner/name"
            ref = "main"
            path = "/etc/hypervisor"
            transport = "pack"
            link_mode = "copy"
            exclude = ["secrets/**", "local"]
            keep_generations = 5
            token_file = "/run/keys/gh"
            api_url = "https://ghe.corp/api/v3"
            raw_url = "https://raw.ghe.corp"
            git_url = "https://ghe.corp"
            rebuild = "nixos-rebuild switch --flake {target}#{hostname}"
            skip_rebuild = true
            metrics_file = "/var/lib/prometheus/node-exporter/smart-sync-hypervisor.prom"
            mirrors = ["https://mirror.example/hv"]
            trusted_key = "/etc/smart-sync/allowed_signers"
            checks = "none"
            """)
        #expect(targets.map(\.name) == ["hypervisor", "zeta"])  // name order
        let t = targets[0]
        #expect(t.repository == "owner/name" && t.source == nil && t.ref == "main" && t.path == "/etc/hypervisor")
        #expect(t.transport == .pack && t.linkMode == .copy && t.excludes == ["secrets/**", "local"])
        #expect(t.keepGenerations == 5 && t.tokenFile == "/run/keys/gh" && t.apiURL == "https://ghe.corp/api/v3")
        #expect(t.rawURL == "https://raw.ghe.corp" && t.gitURL == "https://ghe.corp" && t.skipRebuild == true)
        #expect(
            t.rebuild == "nixos-rebuild switch --flake {target}#{hostname}" && t.checks == ConfiguredTarget.Checks.none)
        #expect(t.metricsFile == "/var/lib/prometheus/node-exporter/smart-sync-hypervisor.prom")
        #expect(t.mirrors == ["https://mirror.example/hv"] && t.file == "config.toml" && t.line == 5)
        #expect(t.trustedKey == "/etc/smart-sync/allowed_signers")
        let z = targets[1]
        #expect(z.source == "/srv/git/zeta" && z.repository == nil && z.ref == nil && z.transport == nil)
        #expect(z.keepGenerations == nil && z.excludes.isEmpty && z.checks == nil)
    }

    @Test func validateTargetStringIsNotATargetList() throws {
        #expect(try parse("target = \"/etc/hypervisor\"\n").isEmpty)
        #expect(try parse("[store]\npath = \"/x\"\n").isEmpty)
        // validate reads a file with targets too: the table is left to the commands that sync.
        let config = try ValidationConfig.parse(
            "[target.a]\nrepo = \"o/r\"\npath = \"/x\"\n[[check]]\nkind = \"kvm\"\n", file: "c.toml")
        #expect(config.target == ValidationConfig.defaultTarget && config.fileChecks.count == 1)
    }

    @Test func errorsNameFileLineAndKey() {
        let head = "[target.a]\nrepo = \"o/r\"\npath = \"/x\"\n"
        let cases: KeyValuePairs<String, String> = [
            head + "refs = \"main\"\n": "config.toml:4: [target.a] unknown key 'refs'; known: repo,",
            "[target.a]\npath = \"/x\"\n": "config.toml:1: [target.a] has neither 'repo' nor 'source'",
            "[target.a]\nrepo = \"o/r\"\n": "config.toml:1: [target.a] has no 'path'",
            "[target.a]\nrepo = \"o\"\npath = \"/x\"\n": "config.toml:2: [target.a] 'repo' must be",
            "[target.a]\nsource = \"git/r\"\npath = \"/x\"\n":
                "config.toml:2: [target.a] 'source' must be an absolute path",
            head + "link_mode = \"symlink\"\n": "config.toml:4: [target.a] 'link_mode' must be one of \"auto\"",
            head + "keep_generations = 101\n": "config.toml:4:",
            head + "exclude = \"secrets\"\n": "config.toml:4: [target.a] 'exclude' must be an array",
            head + "skip_rebuild = \"yes\"\n": "config.toml:4: [target.a] 'skip_rebuild' must be true or false",
            head + "checks = \"all\"\n": "config.toml:4: [target.a] 'checks' must be one of \"builtin\"",
            head + "mirrors = [\"ftp://m\"]\n": "config.toml:4: [target.a] 'mirrors' must hold",
            head + "api_url = \"ghe.corp\"\n": "config.toml:4: [target.a] 'api_url' must be an http",
            head + "token_file = \"keys/gh\"\n": "config.toml:4: [target.a] 'token_file' must be an absolute",
            "[target.\"-x\"]\nrepo = \"o/r\"\npath = \"/x\"\n": "config.toml:1: the target name '-x'",
            "[target]\na = 1\n": "config.toml:2: 'target.a' must be a table",
        ]
        for (text, message) in cases {
            let said = error(text)
            #expect(said.contains(message), "\(text): \(said)")
        }
    }

    @Test func namesNeverLookLikeRepositories() {
        #expect(ConfiguredTarget.isValidName("hypervisor") && ConfiguredTarget.isValidName("hv-2_b.x"))
        for bad in ["", "owner/repo", "a b", "-x", ".hidden", "tab\there"] {
            #expect(!ConfiguredTarget.isValidName(bad), "\(bad)")
        }
    }
}
