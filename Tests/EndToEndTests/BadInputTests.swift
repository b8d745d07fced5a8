import Foundation
import TestSupport
import Testing

/// Hostile or broken server answers: the sync is refused and the target is never touched.
@Suite("bad input")
struct BadInputTests {
    /// Serves `body` as the recursive tree of every commit.
    private func serveTree(_ s: Scenario, entries: String) throws {
        let body = #"{"sha": "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "truncated": false, "tree": [\#(entries)]}"#
        let rule: [String: Any] = [
            "match": ["listener": "api", "path_regex": "/git/trees/"],
            "action": ["status": 200, "body": body, "headers": ["Content-Type": "application/json"]],
        ]
        let data = try JSONSerialization.data(withJSONObject: [rule])
        try s.server.setFaults(String(decoding: data, as: UTF8.self))
    }

    private static let blob = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"

    @Test(arguments: [
        "../escape", "/etc/passwd", "a/../../b", ".git/hooks/post-checkout", "sub/.git/config", "nul\\u0000byte",
    ])
    func unsafeTreePathsRefuseTheWholeSync(path: String) throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try serveTree(
            s, entries: #"{"path": "\#(path)", "mode": "100644", "type": "blob", "sha": "\#(Self.blob)", "size": 0}"#)
        let r = try s.run("sync")
        #expect(r.status == 6, "exit \(r.status): \(r.stderrString)")
        #expect(r.stderrString.contains("refusing"))
        #expect(!FileManager.default.fileExists(atPath: s.target))
        #expect(try s.rawRequests().isEmpty)
    }

    /// Every byte-count option goes through one parser: a bad value names the option and exits 64 before any
    /// request; `none` is a value of --max-download only.
    @Test(arguments: [
        ("--limit-rate", "fast"), ("--min-speed", "0"), ("--max-download", "0"), ("--pack-blob-limit", "1e3"),
        ("--max-size", "5Q"), ("--limit-rate", "none"), ("--max-download", "2X"),
    ])
    func aBadByteCountNamesItsOption(option: String, value: String) throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let r = try s.run("sync", [option, value])
        #expect(r.status == 64, "\(option) \(value): exit \(r.status) \(r.stderrString)")
        #expect(r.stderrString.contains("'\(value)'") && r.stderrString.contains(option), "\(r.stderrString)")
        #expect(try s.server.requests().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: s.target))
    }

    @Test func byteCountsInEveryFormParse() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let r = try s.run(
            "sync", ["--limit-rate", "1.5m", "--min-speed", "512", "--max-download", "none", "--pack-blob-limit", "64K",
                     "--max-size", "1T"])
        #expect(r.status == 0, "\(r.stderrString)")
        let help = try SmartSyncBinary.run(["sync", "--help"], environment: s.environment(), check: false)
        // Defaults are shown as they would be written.
        #expect(help.stdoutString.contains("(default: 1K)"), "\(help.stdoutString)")
        #expect(help.stdoutString.contains("4G)"), "--max-download's default (the help text may wrap before it)")
        #expect(help.stdoutString.contains("(default: 1M)"))
    }

    @Test func pathThroughASymlinkOfTheSameTreeIsRefused() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try serveTree(
            s,
            entries: """
                {"path": "etc", "mode": "120000", "type": "blob", "sha": "\(Self.blob)", "size": 4},
                {"path": "etc/passwd", "mode": "100644", "type": "blob", "sha": "\(Self.blob)", "size": 0}
                """)
        let r = try s.run("sync")
        #expect(r.status == 6)
        #expect(r.stderrString.contains("'etc/passwd' runs through 'etc', which is a symlink"))
        #expect(!FileManager.default.fileExists(atPath: s.target))
    }

    /// A blob size is the tree API's word (the tree hash does not cover it): one that no file can have is refused as
    /// a malformed answer before anything adds it up (it used to trap, exit 132), and the target is not touched.
    @Test(arguments: [5_000_000_000_000_000_000, -1, 1 << 49])
    func aBlobSizeNoFileCanHaveIsRefused(size: Int) throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let rule: [String: Any] = [
            "match": ["listener": "api", "path_regex": "/git/trees/"], "action": ["tree_blob_fields": ["size": size]],
        ]
        try s.server.setFaults(String(decoding: try JSONSerialization.data(withJSONObject: [rule]), as: UTF8.self))
        let r = try s.run("sync")
        // 1: a malformed answer (it was 4, the signal of the trap, for the first size).
        #expect(r.status == 1, "size \(size): exit \(r.status): \(r.stderrString)")
        #expect(r.stderrString.contains("with the size \(size), which no file can have"), "\(r.stderrString)")
        #expect(!FileManager.default.fileExists(atPath: s.target))
    }

    /// Text from the tree listing reaches the error message escaped: no terminal control byte on stderr.
    @Test func aTreeItemsModeIsEscapedInTheError() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let rule: [String: Any] = [
            "match": ["listener": "api", "path_regex": "/git/trees/"],
            "action": ["tree_blob_fields": ["mode": "\u{1B}[2J"]],
        ]
        try s.server.setFaults(String(decoding: try JSONSerialization.data(withJSONObject: [rule]), as: UTF8.self))
        let r = try s.run("sync")
        #expect(r.status == 1, "exit \(r.status): \(r.stderrString)")
        #expect(
            r.stderrString.contains("with mode '\\x1b[2J'") && r.stderrString.contains("does not understand"),
            "\(r.stderrString)")
        #expect(!r.stderr.contains(0x1B), "\(r.stderrString)")
    }

    @Test func alteredListingFailsVerification() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        // A well-formed listing that is not the commit's tree.
        try serveTree(
            s, entries: #"{"path": "flake.nix", "mode": "100644", "type": "blob", "sha": "\#(Self.blob)", "size": 0}"#)
        let r = try s.run("sync")
        #expect(r.status == 6)
        #expect(r.stderrString.contains("does not hash to"))
        #expect(!FileManager.default.fileExists(atPath: s.target))
    }

    @Test func malformedJSONNamesTheEndpoint() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "api", "path_regex": "/git/trees/"}, "action": {"status": 200, "#
                + #""body": "{not json"}}]"#
        )
        let r = try s.run("sync")
        #expect(r.status == 1)
        #expect(r.stderrString.contains("/git/trees/"))
        #expect(r.stderrString.contains("not the JSON GitHub sends"))
    }

    @Test func corruptedBlobIsRefetchedOnce() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "raw", "path_regex": "flake.nix"}, "times": 1, "#
                + #""action": {"corrupt_byte_at": 3}}]"#
        )
        try s.sync()
        try s.expectTargetEqualsArchive(a)
        #expect(try s.rawRequests().filter { $0.path.hasSuffix("/flake.nix") }.count == 2)
    }

    @Test func persistentlyCorruptBlobFailsAndTheTargetKeepsItsOldState() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        try s.repo.write("flake.nix", "{ changed = true; }\n")
        _ = try s.repo.commit("C")
        try s.server.setFaults(
            #"[{"match": {"listener": "raw", "path_regex": "flake.nix"}, "action": {"corrupt_byte_at": 0}}]"#)
        let r = try s.run("sync")
        #expect(r.status == 6, "exit \(r.status): \(r.stderrString)")
        #expect(r.stderrString.contains("flake.nix"))
        #expect(r.stderrString.contains("did not match its blob id"))
        try s.expectTargetEqualsArchive(a)
        // Nothing unverified reached the store either.
        let tmp = try FileManager.default.contentsOfDirectory(atPath: s.store + "/tmp")
        #expect(tmp.isEmpty)
    }

    @Test func truncatedBodyIsNeverApplied() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        // Every attempt breaks off (retries resume, but never get far), and the fallback clone is refused too.
        try s.server.setFaults(
            #"[{"match": {"listener": "raw", "path_regex": "blob.bin"}, "action": {"truncate_after_bytes": 1000}}, "#
                + #"{"match": {"listener": "git"}, "action": {"status": 500}}]"#
        )
        let r = try s.run("sync", ["--retries", "1"])
        #expect(r.status != 0)
        #expect(r.stderrString.contains("blob.bin") || r.stderrString.contains("data/blob"))
        #expect(!FileManager.default.fileExists(atPath: s.target + "/data/blob.bin"))
    }
}

@Suite("retries are visible")
struct RetryVisibilityTests {
    @Test func aRetryIsAnnouncedAndCounted() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "raw", "path_regex": "flake.nix"}, "times": 1, "action": {"status": 503}}]"#)
        let r = try s.run("sync", ["--json"])
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        #expect(r.stdoutString.contains(#""event":"warning""#) && r.stdoutString.contains("retrying in"))
        let summary = try Scenario.summary(r)
        let requests = try #require(summary["requests"] as? [String: Any])
        #expect(requests["retries"] as? Int == 1)
    }
}
