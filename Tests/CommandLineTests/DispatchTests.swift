import ArgumentParser
import FoundationEssentials
import TestSupport
import Testing

@testable import smart_sync

/// `SmartSync.dispatch`'s shortcut (a subcommand named first parses the arguments after it alone) against the root's
/// parse, which every command line the shortcut does not take goes through.
@Suite("command-line dispatch")
struct DispatchTests {
    /// Command lines the shortcut takes: each must give the root parse's command, value for value.
    static let parsedAlone: [[String]] = [
        [
            "sync", "--source", "/srv/repo.git", "--ref", "da18c98c7641c6210d62411e6ccd835c90f2a5e1", "--target",
            "/tmp/t", "--store", "/tmp/s", "--state-dir", "/tmp/st",
        ],
        ["sync", "owner/repo", "--ref=v1", "--target", "/x", "--exclude", "a/*", "--exclude", "b", "--keep-local"],
        ["sync", "--all", "--dry-run", "--json", "-vv", "--jobs", "8", "--limit-rate", "1.5m", "--max-size", "1T"],
        ["sync", "plan"],  // a repository or target name that is also a command's name
        ["sync", "help"],
        ["sync", "--", "--hypervisor"],
        ["plan", "owner/repo", "--list", "--target", "/x", "--ref", "main"],
        ["warm", "owner/repo", "--ref", "main", "--ref", "v2"],
        ["verify", "--target", "/x"],
        ["rollback", "hypervisor"],
        ["restore", "modules/x.nix", "--target", "/x", "--list"],
        ["validate", "--target", "/x", "--quick"],
        ["update", "hypervisor", "--skip-rebuild"],
        ["gc", "--dry-run", "--wait", "5"],
        ["fsck", "owner/repo", "--repair"],
        ["pins", "--json"],
        ["unpin", "a", "b"],
        ["status", "--target", "/x", "--history", "--limit", "3"],
        ["publish", "owner/repo", "--ref", "main", "--to", "/srv/mirror"],
    ]

    /// Command lines the shortcut leaves to the root's parse: no subcommand first; help, version, dump and
    /// completion-script requests; usage and validation errors.
    static let leftToTheRoot: [[String]] = [
        [], ["--help"], ["-h"], ["help"], ["help", "sync"], ["--version"], ["frobnicate"], ["Sync"],
        ["--json", "sync"], ["--generate-completion-script", "bash"], ["--experimental-dump-help"],
        ["sync", "--help"], ["sync", "-h"], ["sync", "--source", "/r", "-h"], ["sync", "--version"],
        ["sync", "--generate-completion-script", "zsh"], ["sync", "--generate-completion-script"],
        ["sync", "--experimental-dump-help"], ["sync", "--frobnicate"], ["sync", "--source"],
        ["sync", "--jobs", "0"], ["sync", "--jobs", "x"], ["sync", "--limit-rate", "fast"], ["sync", "a/b", "c/d"],
        ["sync", "--all", "owner/repo"], ["sync", "--ref"], ["plan", "--help"], ["gc", "--wait", "-1"],
        ["unpin"], ["status", "a", "--target", "/x"], ["publish", "owner/repo"], ["restore", "--list"],
        ["sync", "---completion", "--", "--source", "0", "0"], ["---completion", "sync", "--", "--source", "0", "0"],
    ]

    /// One command line of each kind left to the root, which the binary itself is run on
    /// (`everythingElseIsLeftToTheRoot` takes the whole table in process; a start of the debug binary costs ~0.25 s).
    static let runByTheBinary: [[String]] = [
        [], ["--help"], ["sync", "--help"], ["help", "sync"], ["--version"], ["sync", "--version"],
        ["--experimental-dump-help"], ["sync", "--generate-completion-script", "zsh"],
        ["sync", "---completion", "--", "--source", "0", "0"], ["sync", "--frobnicate"], ["sync", "--jobs", "0"],
    ]

    /// `parsedAlone` covers every subcommand of the root, each by its name.
    @Test func theTableNamesEverySubcommand() throws {
        let names = try SmartSync.configuration.subcommands.map {
            try #require($0.configuration.commandName, "\($0) has no command name")
        }
        #expect(Set(Self.parsedAlone.map { $0[0] }) == Set(names))
        #expect(Set(names).count == names.count)
    }

    /// The conditions ``SmartSync/dispatch(_:)`` relies on, read from the library's `--experimental-dump-help`:
    /// the root has no argument but the library's `--version` and `--help`, no default subcommand, and no
    /// subcommand's argument takes input past the subcommand's own. A `validate()` of the root is not in the dump:
    /// the root has none (see the doc of `dispatch`).
    @Test func theRootAddsNothingToASubcommandsParse() throws {
        let dumped: String
        do {
            _ = try SmartSync.parseAsRoot(["--experimental-dump-help"])
            Issue.record("--experimental-dump-help did not throw its answer")
            return
        } catch {
            dumped = SmartSync.fullMessage(for: error)
        }
        let root = try JSONDecoder().decode(DumpedTool.self, from: Data(dumped.utf8)).command
        #expect(root.arguments?.map(\.valueName) == ["version", "help"])
        #expect(root.defaultSubcommand == nil)
        let subcommands = try #require(root.subcommands)
        #expect(subcommands.count == SmartSync.configuration.subcommands.count + 1)  // and the library's help
        // The strategies that leave the lenient pass and the subcommand's own matching alike; the library's others
        // (allRemainingInput, postTerminator, allUnrecognized: passthrough; unconditional) are not.
        let plain: Set<String> = ["default", "scanningForValue", "upToNextOption"]
        #expect(subcommands.contains { !($0.arguments ?? []).isEmpty }, "the dump lists no subcommand's arguments")
        for command in subcommands {
            for argument in command.arguments ?? [] {
                #expect(
                    plain.contains(argument.parsingStrategy),
                    "\(command.commandName) \(argument.valueName ?? "?"): \(argument.parsingStrategy)"
                )
            }
        }
    }

    @Test(arguments: parsedAlone)
    func aSubcommandParsedAloneEqualsTheRootsParse(arguments: [String]) async throws {
        let alone = try #require(await SmartSync.parsedSubcommand(arguments), "\(arguments) was left to the root")
        let full = try await SmartSync.asyncParseAsRoot(arguments)
        #expect(type(of: alone) == type(of: full))
        #expect(Self.dumped(alone) == Self.dumped(full))
    }

    /// The dumps compared above hold every parsed value: they differ where one value does.
    @Test func theDumpShowsTheParsedValues() async throws {
        let one = try #require(await SmartSync.parsedSubcommand(["sync", "--source", "/srv/one.git", "-v"]))
        let other = try #require(await SmartSync.parsedSubcommand(["sync", "--source", "/srv/one.git", "-vv"]))
        #expect(Self.dumped(one).contains("/srv/one.git"))
        #expect(Self.dumped(one) != Self.dumped(other))
    }

    @Test(arguments: leftToTheRoot)
    func everythingElseIsLeftToTheRoot(arguments: [String]) async {
        #expect(await SmartSync.parsedSubcommand(arguments) == nil)
    }

    /// The binary prints what the root's parse has it print, on the same stream, and exits with the same code.
    @Test(arguments: runByTheBinary)
    func theBinaryAnswersAsTheRootsParse(arguments: [String]) async throws {
        #expect(Self.leftToTheRoot.contains(arguments))
        let expected = await Self.rootsAnswer(arguments)
        let r = try SmartSyncBinary.run(arguments, environment: ["COLUMNS": "100"], check: false)
        #expect(r.status == expected.status, "\(arguments): \(r.stderrString)")
        #expect(r.stdoutString == expected.stdout, "\(arguments)")
        #expect(r.stderrString == expected.stderr, "\(arguments)")
    }

    /// The parts of the `--experimental-dump-help` JSON (swift-argument-parser's `ToolInfoV0`) the checks read.
    private struct DumpedTool: Decodable {
        struct Command: Decodable {
            var commandName: String
            var defaultSubcommand: String?
            var arguments: [Argument]?
            var subcommands: [Command]?
        }
        struct Argument: Decodable {
            var valueName: String?
            var parsingStrategy: String
        }
        var command: Command
    }

    /// Every value of a parsed command, its option groups' included.
    private static func dumped(_ command: any ParsableCommand) -> String {
        var text = ""
        dump(command, to: &text)
        return text
    }

    /// What `SmartSync.main` prints and exits with for `arguments`, none of which names a command that runs.
    private static func rootsAnswer(_ arguments: [String]) async -> (status: Int32, stdout: String, stderr: String) {
        let error: any Error
        do {
            var command = try await SmartSync.asyncParseAsRoot(arguments)
            let parsed = ObjectIdentifier(type(of: command))
            let commands = SmartSync.configuration.subcommands.map(ObjectIdentifier.init)
            #expect(!commands.contains(parsed), "\(arguments) names a command that runs")
            try command.run()  // the library's help command, or the root's run: prints help (throws its answer)
            return (0, "", "")
        } catch let thrown {
            error = thrown
        }
        let text = SmartSync.fullMessage(for: error, columns: 100)
        let status = SmartSync.exitCode(for: error).rawValue
        let printed = text.isEmpty ? "" : text + "\n"
        return status == 0 ? (status, printed, "") : (status, "", printed)
    }
}
