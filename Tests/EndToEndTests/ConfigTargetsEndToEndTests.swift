import Foundation
import TestSupport
import Testing

/// Targets declared in the config file (`[target.NAME]`): commands that take a NAME, `sync --all`, flags over the
/// file, strict keys, and the token from `token_file` or systemd's `$CREDENTIALS_DIRECTORY`.
@Suite("config file targets", .serialized)
struct ConfigTargetsEndToEndTests {
    static let token = "ghp_CONFIGTARGETSTOKEN"

    /// A config file with `[store]` naming the scenario's store and state, and one `[target.NAME]` per entry
    /// (`name`, the target directory's name under the scenario's root, extra lines), served by the test server.
    func writeConfig(_ s: Scenario, _ targets: [(name: String, dir: String, extra: String)]) throws -> String {
        var text = "[store]\npath = \"\(s.store)\"\nstate = \"\(s.stateDir)\"\n"
        for t in targets {
            text += """

                [target.\(t.name)]
                path = "\(s.root)/\(t.dir)"
                api_url = "\(s.server.apiURL)"
                raw_url = "\(s.server.rawURL)"
                git_url = "\(s.server.gitURL)"
                transport = "raw"
                \(t.extra)

                """
        }
        let file = s.dirs.appending("config.toml")
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    func run(_ s: Scenario, _ args: [String], environment: [String: String?] = [:], token: String? = nil) throws
        -> ProcessResult
    {
        try SmartSyncBinary.run(
            args, environment: s.environment(token: token).merging(environment) { $1 }, check: false)
    }

    func expect(_ s: Scenario, _ dir: String, equals commit: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let got = try DirectorySnapshot(of: s.root + "/" + dir)
        let want = try s.archiveSnapshot(commit)
        #expect(
            got == want, "\(dir) differs from \(commit): \(got.difference(from: want))", sourceLocation: sourceLocation)
    }

    static func events(_ r: ProcessResult, _ kind: String) -> [[String: Any]] {
        r.stdoutString.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["event"] as? String == kind }
    }

    @Test func twoTargetsSyncByNameWithFlagsOverTheFile() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let b = try Fixtures.commitB(s.repo)
        let config = try writeConfig(
            s, [("alpha", "one", "repo = \"\(s.slug)\"\nref = \"\(a)\""), ("beta", "two", "repo = \"\(s.slug)\"")])
        let one = try run(s, ["sync", "alpha", "--config", config, "--json"])
        #expect(one.status == 0, "\(one.stderrString)")
        try expect(s, "one", equals: a)
        let summary = try Scenario.summary(one)
        #expect(summary["target"] as? String == s.root + "/one" && summary["transport"] as? String == "raw")
        // The store and state directories come from [store]: no flag named them.
        #expect(FileManager.default.fileExists(atPath: s.store + "/objects"))
        #expect(FileManager.default.fileExists(atPath: s.stateDir + "/targets"))
        let two = try run(s, ["sync", "beta", "--config", config])
        #expect(two.status == 0, "\(two.stderrString)")
        try expect(s, "two", equals: b)
        // A flag wins over the table: alpha's ref moves to B for this run.
        let moved = try run(s, ["sync", "alpha", "--config", config, "--ref", b, "--json"])
        #expect(moved.status == 0, "\(moved.stderrString)")
        try expect(s, "one", equals: b)
        #expect(try Scenario.summary(moved)["commit"] as? String == b)
        // An unknown name lists the configured ones; owner/repo stays a repository.
        let unknown = try run(s, ["sync", "gamma", "--config", config])
        #expect(
            unknown.status == 64 && unknown.stderrString.contains("configured: alpha, beta"), "\(unknown.stderrString)")
        // rollback NAME takes the target's path and the [store] directories: back to A.
        let back = try run(s, ["rollback", "alpha", "--config", config])
        #expect(back.status == 0, "\(back.stderrString)")
        try expect(s, "one", equals: a)
    }

    /// `update NAME` takes the table's rebuild command and checks; `skip_rebuild` skips it unless --rebuild-always.
    @Test func updateByNameUsesTheTablesRebuildAndChecks() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let log = s.dirs.appending("rebuild.log")
        let rebuild = "echo {action} {target} >> \(log)"
        let config = try writeConfig(
            s,
            [
                ("alpha", "one", "repo = \"\(s.slug)\"\nrebuild = \"\(rebuild)\"\nchecks = \"none\""),
                (
                    "beta", "two",
                    "repo = \"\(s.slug)\"\nrebuild = \"\(rebuild)\"\nchecks = \"none\"\nskip_rebuild = true"
                ),
            ])
        let r = try run(s, ["update", "alpha", "--config", config, "--rebuild-action", "test", "--json"])
        #expect(r.status == 0, "\(r.stderrString)\n\(r.stdoutString)")
        try expect(s, "one", equals: a)
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "test \(s.root)/one\n")
        // checks = "none": no check ran (the built-in ones would look for a flake and KVM).
        #expect(Self.events(r, "check").isEmpty, "\(r.stdoutString)")
        let skipped = try run(s, ["update", "beta", "--config", config])
        #expect(skipped.status == 0, "\(skipped.stderrString)")
        try expect(s, "two", equals: a)
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "test \(s.root)/one\n")
        let forced = try run(s, ["update", "beta", "--config", config, "--rebuild-always"])
        #expect(forced.status == 0, "\(forced.stderrString)")
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "test \(s.root)/one\nswitch \(s.root)/two\n")
        // checks = "config" with no [[check]] in the file is refused, naming the target's line.
        let noChecks = try writeConfig(s, [("alpha", "one", "repo = \"\(s.slug)\"\nchecks = \"config\"")])
        let refused = try run(s, ["update", "alpha", "--config", noChecks])
        #expect(
            refused.status == 64 && refused.stderrString.contains("config.toml:5: [target.alpha] checks = \"config\""),
            "\(refused.stderrString)")
    }

    /// A target's `metrics_file` is written by `sync NAME` and `status NAME` reads that target, as the flags would.
    @Test func aTargetsMetricsFileAndStatusByName() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let metrics = s.dirs.appending("alpha.prom")
        let config = try writeConfig(s, [("alpha", "one", "repo = \"\(s.slug)\"\nmetrics_file = \"\(metrics)\"")])
        let r = try run(s, ["sync", "alpha", "--config", config])
        try #require(r.status == 0, "\(r.stderrString)")
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(text.contains("smart_sync_deployed_info{") && text.contains(a), "\(text)")
        let status = try run(s, ["status", "alpha", "--config", config, "--json"])
        #expect(status.status == 0, "\(status.stderrString)")
        let objects = Self.events(status, "status")
        #expect(objects.count == 1 && objects.first?["commit"] as? String == a, "\(status.stdoutString)")
    }

    @Test func syncAllGoesOnPastAFailingTarget() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let config = try writeConfig(
            s,
            [
                ("alpha", "one", "repo = \"\(s.slug)\""), ("broken", "two", "repo = \"acme/missing\""),
                ("gamma", "three", "repo = \"\(s.slug)\"\nexclude = [\"docs\"]"),
            ])
        let r = try run(s, ["sync", "--all", "--config", config, "--json"])
        #expect(r.status == 4, "\(r.stderrString)")  // the worst: broken's repository is not found
        try expect(s, "one", equals: a)
        #expect(FileManager.default.fileExists(atPath: s.root + "/three/README.md"))
        #expect(!FileManager.default.fileExists(atPath: s.root + "/three/docs"))  // the table's exclude
        let summaries = Self.events(r, "summary")
        #expect(summaries.compactMap { $0["name"] as? String } == ["alpha", "broken", "gamma"], "\(r.stdoutString)")
        #expect(summaries[1]["ok"] as? Bool == false && summaries[1]["exitCode"] as? Int == 4)
        #expect(Self.events(r, "error").first?["name"] as? String == "broken")
        let all = try #require(Self.events(r, "all").first)
        #expect(all["exitCode"] as? Int == 4)
        // Human output says which one failed.
        let human = try run(s, ["sync", "--all", "--config", config])
        #expect(human.status == 4 && human.stderrString.contains("failed: broken (exit 4)"), "\(human.stderrString)")
    }

    @Test func badKeysAndValuesNameFileLineAndKey() throws {
        let s = try Scenario()
        let config = s.dirs.appending("config.toml")
        let cases: [(String, String)] = [
            (
                "[target.a]\nrepo = \"o/r\"\npath = \"/x\"\nrefs = \"main\"\n",
                "config.toml:4: [target.a] unknown key 'refs'"
            ),
            ("verbose = true\n", "config.toml:1: unknown key 'verbose'"),
            ("[target.a]\nrepo = \"o/r\"\npath = \"x\"\n", "config.toml:3: [target.a] 'path' must be an absolute path"),
            (
                "[target.a]\nrepo = \"o/r\"\nsource = \"/srv/r\"\npath = \"/x\"\n",
                "config.toml:3: [target.a] has both 'repo' and 'source'"
            ),
            (
                "[target.a]\nrepo = \"o/r\"\npath = \"/x\"\ntransport = \"ftp\"\n",
                "config.toml:4: [target.a] 'transport' must be one of"
            ),
            (
                "[target.a]\nrepo = \"o/r\"\npath = \"/x\"\nkeep_generations = -1\n",
                "config.toml:4: [target.a] 'keep_generations'"
            ),
            ("[store]\npath = \"relative\"\n", "config.toml:2: 'path' must be an absolute path"),
        ]
        for (text, message) in cases {
            try Data(text.utf8).write(to: URL(fileURLWithPath: config))
            let r = try run(s, ["sync", "a", "--config", config])
            #expect(r.status == 64 && r.stderrString.contains(message), "\(text): \(r.stderrString)")
        }
    }

    /// Every command takes --config, --store and --state-dir, so a script can pass the same ones to each (rollback,
    /// restore, warm, verify and pins refused some of them before).
    @Test func everyCommandTakesTheCommonOptions() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let config = try writeConfig(s, [("alpha", "one", "repo = \"\(s.slug)\"\nref = \"\(a)\"")])
        let common = ["--config", config, "--store", s.store, "--state-dir", s.stateDir]
        #expect(try run(s, ["sync", "alpha"] + common).status == 0)
        let commands: [[String]] = [
            ["plan", "alpha"], ["warm", "alpha"], ["verify", "alpha"], ["rollback", "alpha", "--list"],
            ["rollback", "--target", s.root + "/one", "--list"],
            ["restore", "README.md", "--target", s.root + "/one", "--list"],
            ["validate", "--target", s.root + "/one", "--quick"], ["gc", "--dry-run"], ["fsck"], ["pins"],
            ["update", "alpha", "--check-only"],
        ]
        for command in commands {
            let r = try run(s, command + common)
            #expect(r.status != 64, "\(command): \(r.stderrString)")
            #expect(!r.stderrString.contains("Unknown option"), "\(command): \(r.stderrString)")
        }
    }

    @Test func theTokenComesFromTokenFileThenCredentialsDirectoryAndNeverShows() throws {
        let s = try Scenario(token: Self.token, privateRepo: true)
        let a = try Fixtures.commitA(s.repo)
        let tokenFile = s.dirs.appending("gh-token-file")
        try Data((Self.token + "\n").utf8).write(to: URL(fileURLWithPath: tokenFile))
        let credentials = s.dirs.appending("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        // Without a token the private repository cannot be read: the runs below succeed because of their token.
        let bare = try writeConfig(s, [("alpha", "one", "repo = \"\(s.slug)\"")])
        let none = try run(s, ["sync", "alpha", "--config", bare])
        #expect(none.status != 0)
        // $CREDENTIALS_DIRECTORY/gh-token (systemd's LoadCredential=gh-token:…), before any variable.
        try Data((Self.token + "\n").utf8).write(to: URL(fileURLWithPath: credentials + "/gh-token"))
        let fromCredentials = try run(
            s, ["sync", "alpha", "--config", bare, "--json"], environment: ["CREDENTIALS_DIRECTORY": credentials],
            token: "wrong-token-in-GH_TOKEN")
        #expect(fromCredentials.status == 0, "\(fromCredentials.stderrString)")
        try expect(s, "one", equals: a)
        // token_file comes first: a wrong credential is not used.
        try Data("wrong-credential\n".utf8).write(to: URL(fileURLWithPath: credentials + "/gh-token"))
        let config = try writeConfig(
            s,
            [
                ("alpha", "one", "repo = \"\(s.slug)\""),
                ("beta", "two", "repo = \"\(s.slug)\"\ntoken_file = \"\(tokenFile)\""),
            ])
        let fromFile = try run(
            s, ["sync", "beta", "--config", config, "--json"], environment: ["CREDENTIALS_DIRECTORY": credentials])
        #expect(fromFile.status == 0, "\(fromFile.stderrString)")
        try expect(s, "two", equals: a)
        let requests = try s.server.requests().filter { $0.status == 200 }
        #expect(!requests.isEmpty && requests.allSatisfy { $0.hadAuthorization })
        for r in [none, fromCredentials, fromFile] {
            #expect(!r.stdoutString.contains(Self.token) && !r.stderrString.contains(Self.token))
            #expect(!r.stdoutString.contains("wrong-") && !r.stderrString.contains("wrong-"))
        }
        // A token file that cannot be read is an error naming the file, not a silent fallback.
        try FileManager.default.removeItem(atPath: tokenFile)
        let missing = try run(s, ["sync", "beta", "--config", config])
        #expect(missing.status == 4 && missing.stderrString.contains(tokenFile), "\(missing.stderrString)")
    }
}
