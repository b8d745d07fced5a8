import Foundation
import SmartSyncCore
import SmartSyncWorkflow
import TestSupport
import Testing

@Suite("rebuild command")
struct RebuildCommandTests {
    @Test func theDefaultTemplateIsFilledIn() {
        let c = RebuildCommand(action: .test, hostname: "hv1")
        #expect(c.commandLine(target: "/etc/hypervisor") == "nixos-rebuild test --flake /etc/hypervisor#hv1")
        #expect(c.changesRunningSystem)
        #expect(!RebuildCommand(action: .build, hostname: "x").changesRunningSystem)
        #expect(RebuildCommand().action == .switch)
    }

    @Test func valuesAreShellQuotedAndSubstitutedOnce() {
        let c = RebuildCommand(template: "run {target} {hostname} {action}", action: .switch, hostname: "{target}")
        #expect(c.commandLine(target: "/srv/it's here") == #"run '/srv/it'\''s here' '{target}' switch"#)
        #expect(RebuildCommand.shellQuote("") == "''")
        #expect(RebuildCommand.shellQuote("a-b_c.d/e:f@g") == "a-b_c.d/e:f@g")
    }

    @Test func aMissingNixosRebuildNamesTheWaysOut() throws {
        let dir = try TemporaryDirectory(prefix: "path")
        let error = #expect(throws: SmartSyncError.self) {
            try RebuildCommand(hostname: "h").checkAvailable(searchPath: [dir.path])
        }
        #expect(error?.code == .commandFailed)
        #expect(error?.hint?.contains("--skip-rebuild") == true)
        #expect(error?.hint?.contains("--rebuild-command") == true)
        // Found on the path: fine. A custom command is left to the shell.
        let tool = dir.appending("nixos-rebuild")
        _ = FileManager.default.createFile(atPath: tool, contents: Data("#!/bin/sh\n".utf8))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tool)
        try RebuildCommand(hostname: "h").checkAvailable(searchPath: [dir.path])
        try RebuildCommand(template: "nope {target}", hostname: "h").checkAvailable(searchPath: [])
    }
}

@Suite("rebuild run")
struct RebuildRunTests {
    @Test func linesAreCapturedWithTheExitStatusAndEnvironment() async throws {
        let lines = Locked<[String]>([])
        let result = try await RebuildRun.run(
            "echo one; echo \"two $EXTRA\" >&2; printf three; exit 3", environment: ["EXTRA": "x"],
            output: .lines { line in lines.withLock { $0.append(line) } })
        #expect(result.status == 3)
        #expect(!result.succeeded)
        #expect(result.description == "exited with status 3")
        #expect(lines.withLock { $0 } == ["one", "two x", "three"])
        #expect(result.tail == ["one", "two x", "three"])
    }

    @Test func tokenVariablesAreNotPassedOn() async throws {
        let inherited = [
            "GH_TOKEN": "a", "GITHUB_TOKEN": "b", "GH_ENTERPRISE_TOKEN": "c", "GITHUB_ENTERPRISE_TOKEN": "d",
            "GITHUB_PAT": "e", "PATH": "/usr/bin:/bin", "HOME": "/root",
        ]
        let child = RebuildRun.childEnvironment(
            inherited: inherited, adding: ["SMART_SYNC_TARGET": "/etc/x", "GH_TOKEN": "f"])
        #expect(child == ["PATH": "/usr/bin:/bin", "HOME": "/root", "SMART_SYNC_TARGET": "/etc/x"])
        // And what the command sees: the test process's own environment has no token either by then.
        let lines = Locked<[String]>([])
        let result = try await RebuildRun.run(
            "env", environment: ["GH_TOKEN": "x", "MINE": "1"],
            output: .lines { line in lines.withLock { $0.append(line) } })
        #expect(result.succeeded)
        #expect(lines.withLock { $0 }.contains("MINE=1"))
        #expect(!lines.withLock { $0 }.contains { $0.hasPrefix("GH_TOKEN=") })
    }

    @Test func aMissingCommandIsStatus127() async throws {
        let result = try await RebuildRun.run("/nonexistent/command-xyz", output: .lines { _ in })
        #expect(result.status == 127)
        #expect(result.description.contains("not found"))
    }

    @Test func onlyTheLastLinesAreKept() async throws {
        let result = try await RebuildRun.run("seq 1 100", output: .lines { _ in })
        #expect(result.succeeded)
        #expect(result.tail.count == 20)
        #expect(result.tail.last == "100")
    }
}
