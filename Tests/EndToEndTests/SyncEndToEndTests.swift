import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

@Suite("sync against the GitHub-shaped server", .serialized)
struct SyncEndToEndTests {
    @Test func coldSyncEqualsGitArchive() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let summary = try s.sync(["--ref", "main"])
        try s.expectTargetEqualsArchive(a)
        #expect(summary["commit"] as? String == a)
        // 14 distinct blobs (two identical .nix files share one): each fetched exactly once.
        let raw = try s.rawRequests()
        let distinct = Set(try s.repo.git("ls-tree", "-r", "--format=%(objectname)", a).split(separator: "\n"))
        #expect(raw.count == distinct.count)
        #expect(raw.allSatisfy { $0.status == 200 && $0.path.contains("/" + a + "/") })
        #expect(summary["blobsFetched"] as? Int == distinct.count)
        // Files are read-only hardlinks of the store's objects.
        let st = try FileManager.default.attributesOfItem(atPath: s.target + "/README.md")
        #expect((st[.referenceCount] as? Int ?? 0) >= 2)
    }

    /// A reader that leaves early (`smart-sync sync --json | head -1`) costs the output, never the run: the writes
    /// of the JSON lines answer EPIPE instead of SIGPIPE ending smart-sync mid-apply (it did: exit 141).
    @Test func aSyncWhoseStdoutReaderIsGoneCompletes() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let ended = try s.runIntoClosedPipe(s.arguments("sync", ["--ref", "main", "--json"]), name: "sync")
        let err = (try? String(contentsOfFile: s.dirs.appending("sync.err"), encoding: .utf8)) ?? ""
        #expect(ended == .exited(0), "\(err)")
        try s.expectTargetEqualsArchive(a)
    }

    @Test func updateFetchesExactlyTheChangedBlobs() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let b = try Fixtures.commitB(s.repo)
        try s.server.clearLog()
        let summary = try s.sync()
        try s.expectTargetEqualsArchive(b)
        // New content in B: bridge.nix's new version and gpu.nix (= gpu-copy.nix). Renames, exec flips and
        // symlink retargets reuse blobs the store or target already hold (symlink targets are new blobs).
        let newBlobs = Set(try s.repo.git("ls-tree", "-r", "--format=%(objectname)", b).split(separator: "\n"))
            .subtracting(try s.repo.git("ls-tree", "-r", "--format=%(objectname)", "HEAD~1").split(separator: "\n"))
        let raw = try s.rawRequests()
        #expect(raw.count == newBlobs.count, "raw requests: \(raw.map(\.path))")
        #expect(!raw.contains { $0.path.hasSuffix("renamed%20space.txt") || $0.path.hasSuffix("renamed space.txt") })
        let plan = try #require(summary["plan"] as? [String: Any])
        let counts = try #require(plan["counts"] as? [String: Int])
        #expect(counts["delete"] == 3)  // old.sh, with space.txt, ünïcødé ☃ notes.md
        #expect(counts["add"] == 4)  // gpu.nix, gpu-copy.nix, renamed space.txt, ñew ☃ notes.md
        #expect(counts["modify"] == 1)
        #expect(counts["mode"] == 2)
        #expect(counts["symlink"] == 2)
        #expect(summary["previousCommit"] as? String == (try s.repo.revParse("HEAD~1")))
        // Exec bits as git has them.
        #expect(FileManager.default.isExecutableFile(atPath: s.target + "/scripts/tool.sh"))
        #expect(!FileManager.default.isExecutableFile(atPath: s.target + "/scripts/menu.sh"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: s.target + "/menu") == "scripts/tool.sh")
    }

    @Test func noOpSyncCostsOneConditionalRequest() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync(["--ref", "main"])
        try s.server.clearLog()
        let summary = try s.sync(["--ref", "main"])
        #expect(try s.rawRequests().isEmpty)
        let api = try s.apiRequests()
        #expect(!api.isEmpty)
        #expect(api.allSatisfy { $0.status == 304 }, "API answers: \(api.map { "\($0.path) \($0.status)" })")
        let plan = try #require(summary["plan"] as? [String: Any])
        #expect(plan["upToDate"] as? Bool == true)
        // A deleted file is restored from the store with no download.
        try FileManager.default.removeItem(atPath: s.target + "/flake.nix")
        try s.server.clearLog()
        try s.sync(["--ref", "main"])
        #expect(try s.rawRequests().isEmpty)
        #expect(FileManager.default.fileExists(atPath: s.target + "/flake.nix"))
    }

    /// The `tree:` line counts one commit the same way whether the listing came from the API (which lists
    /// directories too) or from the state of the last sync (the manifest: files and symlinks).
    @Test func aCommitsTreeIsCountedAlikeFromTheAPIAndFromState() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        func listed(_ r: ProcessResult) throws -> Int {
            let line = try #require(r.stdoutString.split(separator: "\n").first { $0.contains(#""event":"listed""#) })
            let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(object["entries"] as? Int)
        }
        let first = try s.run("sync", ["--ref", "main", "--json"])
        try #require(first.status == 0, "\(first.stderrString)")
        let again = try s.run("sync", ["--ref", "main", "--json"])
        try #require(again.status == 0, "\(again.stderrString)")
        let files = try s.repo.git(["ls-tree", "-r", "main"]).split(separator: "\n").count
        #expect(try listed(first) == files)
        #expect(try listed(again) == files)
    }

    @Test func untrackedFilesAreLeftAloneAndLocalEditsKeptInTheStore() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try FileManager.default.createDirectory(atPath: s.target, withIntermediateDirectories: true)
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: s.target + "/local-notes.txt"))
        try s.sync()
        // An in-place edit of a synced file (replace, not write-through, so the store is not touched).
        let edited = s.target + "/modules/net/bridge.nix"
        try FileManager.default.removeItem(atPath: edited)
        try Data("{ bridge = \"mine\"; }\n".utf8).write(to: URL(fileURLWithPath: edited))
        let editedID = ObjectID.blob(Array("{ bridge = \"mine\"; }\n".utf8))
        _ = try Fixtures.commitB(s.repo)
        try s.sync()
        #expect(try String(contentsOfFile: s.target + "/local-notes.txt", encoding: .utf8) == "mine\n")
        let objectPath = s.store + "/objects/" + editedID.hex.prefix(2) + "/" + editedID.hex.dropFirst(2)
        #expect(FileManager.default.fileExists(atPath: objectPath), "the local edit was not kept in the store")
        #expect(try String(contentsOfFile: edited, encoding: .utf8) == "{ bridge = \"enp3s0\"; }\n")
    }

    @Test func excludedPathsAreNeverTouched() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync(["--exclude", "docs"])
        #expect(!FileManager.default.fileExists(atPath: s.target + "/docs"))
        #expect(FileManager.default.fileExists(atPath: s.target + "/flake.nix"))
    }

    @Test func dryRunAndPlanChangeNothing() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let dry = try s.run("sync", ["--dry-run", "--json"])
        #expect(dry.status == 0)
        #expect(!FileManager.default.fileExists(atPath: s.target + "/flake.nix"))
        #expect(try s.rawRequests().isEmpty)
        let pending = try s.run("plan", ["--list"])
        #expect(pending.status == 3, "plan exit: \(pending.status) \(pending.stderrString)")
        #expect(pending.stdoutString.contains("add         flake.nix"))
        try s.sync()
        let clean = try s.run("plan")
        #expect(clean.status == 0, "plan exit: \(clean.status) \(clean.stderrString)")
    }

    @Test func truncatedTreeIsWalkedByLevel() throws {
        let s = try Scenario(truncateTreeOver: 5)
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        try s.expectTargetEqualsArchive(a)
        let trees = try s.apiRequests().filter { $0.path.contains("/git/trees/") }
        #expect(trees.contains { !$0.path.contains("recursive") }, "subtrees were not walked")
    }

    @Test func submodulesAreReportedAndSkipped() throws {
        let s = try Scenario()
        try s.repo.write("a.txt", "a\n")
        _ = try s.repo.commit("a file")
        // A gitlink entry straight into the index (`commit` would stage its absence with `add -A`).
        try s.repo.git([
            "update-index", "--add", "--cacheinfo", "160000,1111111111111111111111111111111111111111,vendor/lib",
        ])
        try s.repo.git(["commit", "-q", "-m", "with submodule"])
        let r = try s.run("sync")
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(r.stderrString.contains("'vendor/lib' is a submodule"))
        #expect(!FileManager.default.fileExists(atPath: s.target + "/vendor/lib"))
        #expect(!(try s.rawRequests()).contains { $0.path.hasSuffix("vendor/lib") })
    }

    @Test func secondRunOnTheSameTargetIsRefusedWhileTheFirstHoldsTheLock() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        // Hold up ref resolution so the first run sits inside its target lock while the second starts.
        try s.server.setFaults(
            #"[{"match": {"listener": "api", "path_regex": "/commits/"}, "times": 1, "action": {"delay_ms": 4000}}]"#)
        let first = try ProcessRunner(
            try SmartSyncBinary.path(),
            [
                "sync", s.slug, "--transport", "raw", "--api-url", s.server.apiURL, "--raw-url", s.server.rawURL,
                "--git-url", s.server.gitURL,
                "--store", s.store,
                "--state-dir", s.stateDir, "--target", s.target, "--quiet",
            ],
            environment: ["HOME": s.dirs.path, "PATH": "/usr/bin:/bin"]
        ).start(output: .standardError, error: .standardError)
        // The lock file appears when the first run takes the lock, before it asks the API anything.
        let targets = s.stateDir + "/targets"
        var waited = 0
        while waited < 200 {
            let dirs = (try? FileManager.default.contentsOfDirectory(atPath: targets)) ?? []
            if dirs.contains(where: { FileManager.default.fileExists(atPath: targets + "/" + $0 + "/lock") }) { break }
            usleep(20_000)
            waited += 1
        }
        let second = try s.run("sync")
        let firstEnd = first.wait()
        #expect(second.status == 7, "second run: \(second.status) \(second.stderrString)")
        #expect(second.stderrString.contains("in use by another smart-sync run"))
        #expect(firstEnd == .exited(0))
    }
}

@Suite("local obstacles")
struct LocalObstacleTests {
    @Test func untrackedDirectoryWhereTheTreeWantsAFileRefusesBeforeTouchingAnything() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        // The tree has a file 'flake.nix'; the operator has a directory of their own there.
        try FileManager.default.createDirectory(atPath: s.target + "/flake.nix", withIntermediateDirectories: true)
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: s.target + "/flake.nix/mine.txt"))
        let r = try s.run("sync")
        #expect(r.status == 6, "exit \(r.status): \(r.stderrString)")
        #expect(r.stderrString.contains("'flake.nix'"))
        #expect(r.stderrString.contains("the target was not changed"))
        #expect(try String(contentsOfFile: s.target + "/flake.nix/mine.txt", encoding: .utf8) == "precious\n")
        #expect(!FileManager.default.fileExists(atPath: s.target + "/README.md"))
    }
}
