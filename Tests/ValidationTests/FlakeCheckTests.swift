import Foundation
@testable import SmartSyncValidation
import TestSupport
import Testing

@Suite("flake")
struct FlakeCheckTests {
    @Test func structuralCheckPassesAndFails() throws {
        #expect(NixStructure.check(Samples.flake).problem == nil)
        #expect(NixStructure.check(Samples.flake).hasOutputs)
        let truncated = String(Samples.flake.dropLast(4))
        #expect(NixStructure.check(truncated).problem?.message.contains("never closed") == true)
        #expect(NixStructure.check("{ a = [ 1 2 }; outputs = 1; }").problem?.message.contains("unexpected '}'") == true)
        #expect(NixStructure.check("{ a = \"x; outputs = 1; }").problem?.line == 1)
        #expect(NixStructure.check("{ /* open\n outputs = 1; }").problem?.message.contains("/*") == true)
        #expect(!NixStructure.check("{ inputs = { outputs = 1; }; }").hasOutputs)
        #expect(!NixStructure.check("{ a = outputs == 1; }").hasOutputs)
    }

    @Test func flakeAndLockPass() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        let result = try FlakeCheck().run(f.context())
        #expect(result.status == .pass, "\(result.message)")
        #expect(result.message.contains("structural check; nix-instantiate not on PATH"))
        #expect(result.message.contains("flake.lock: version 7, 2 nodes"))
    }

    @Test func nixInstantiateIsUsedWhenOnThePath() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        try f.tool(
            "nix-instantiate",
            "[ \"$1\" = --parse ] || exit 3\necho \"error: syntax error, unexpected '}' at $2:3:1\" >&2\nexit 1")
        let result = try FlakeCheck().run(f.context())
        #expect(result.status == .fail)
        #expect(result.message.contains("does not parse: error: syntax error, unexpected '}'"))
        // --quick: the structural check instead.
        #expect(try FlakeCheck().run(f.context(quick: true)).message.contains("structural check, --quick"))
        try f.tool("nix-instantiate", "exit 0")
        #expect(try FlakeCheck().run(f.context()).message.contains("flake.nix parses (nix-instantiate)"))
    }

    @Test func nixInstantiateGetsNoTokenVariables() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        let dump = f.tmp.path + "/nix-env"
        try f.tool("nix-instantiate", "env > \(dump)\nexit 0")
        setenv("GH_TOKEN", "ghp_secret_for_the_test", 1)
        setenv("GITHUB_TOKEN", "ghp_secret_for_the_test", 1)
        defer {
            unsetenv("GH_TOKEN")
            unsetenv("GITHUB_TOKEN")
        }
        #expect(try FlakeCheck().run(f.context()).status == .pass)
        let env = try String(contentsOfFile: dump, encoding: .utf8)
        #expect(env.contains("PATH="), "the tool did not run")
        #expect(!env.contains("ghp_secret_for_the_test"), "a token reached nix-instantiate")
    }

    @Test func lockProblems() throws {
        let f = try Fixture()
        try f.write("flake.nix", Samples.flake)
        let cases: [(String, String)] = [
            ("not json", "is not a JSON object"),
            ("{\"nodes\": {\"root\": {}}, \"root\": \"root\"}", "has no 'version'"),
            ("{\"version\": \"7\", \"nodes\": {\"root\": {}}, \"root\": \"root\"}", "'version' that is not an integer"),
            ("{\"version\": 7.5, \"nodes\": {\"root\": {}}, \"root\": \"root\"}", "'version' that is not an integer"),
            ("{\"version\": 7, \"nodes\": [], \"root\": \"root\"}", "'nodes' that is not an object"),
            ("{\"version\": 7, \"nodes\": {\"a\": {}}, \"root\": \"root\"}", "names root 'root', which is not among"),
        ]
        for (lock, expected) in cases {
            try f.write("flake.lock", lock)
            let result = try FlakeCheck().run(f.context())
            #expect(result.status == .fail && result.message.contains(expected), "\(lock): \(result.message)")
        }
        try FileManager.default.removeItem(atPath: f.target + "/flake.lock")
        #expect(try FlakeCheck().run(f.context()).status == .warn)
        #expect(try FlakeCheck(requireLock: true).run(f.context()).status == .fail)
    }

    @Test func damagedFlakeIsRestoredFromTheStore() throws {
        let f = try Fixture()
        try f.writeHypervisorTree()
        _ = try f.recordSync()
        try f.write("flake.nix", String(Samples.flake.prefix(40)))  // truncated
        try f.write("flake.lock", "{")
        let report = runFixing(FlakeCheck(), try f.context(synced: true))
        #expect(report.before?.status == .fail)
        #expect(report.before?.message.contains("--fix restores flake.nix and flake.lock from the store") == true)
        #expect(report.fix?.actions.count == 2)
        #expect(report.result.status == .pass, "\(report.result.message)")
        #expect(try String(contentsOfFile: f.target + "/flake.nix", encoding: .utf8) == Samples.flake)
    }
}
