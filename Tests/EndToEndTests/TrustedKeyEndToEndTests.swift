import Foundation
import TestSupport
import Testing

/// `--trusted-key`: the commit comes from the mirrors' signed `refs` and the origin is never contacted; expired,
/// replayed, foreign and badly signed pointers are refused. ssh-keygen signs (the publisher's side); smart-sync runs
/// with a PATH that has no ssh-keygen, as it verifies in process.
@Suite(.serialized) struct TrustedKeyEndToEndTests {
    /// A signing key and an allowed_signers file naming it for namespace smart-sync.
    final class Keys: @unchecked Sendable {
        let directory: TemporaryDirectory
        var key: String { directory.appending("id_ed25519") }
        var allowedSigners: String { directory.appending("allowed_signers") }
        /// An empty directory: smart-sync's PATH, so that no ssh-keygen (nor any other program) can be run.
        var emptyPath: String { directory.appending("no-programs") }

        init() throws {
            directory = try TemporaryDirectory(prefix: "trusted-key")
            try ProcessRunner.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "publisher", "-f", key])
            let publicKey = try #require(TestFiles.read(key + ".pub")).trimmingCharacters(in: .whitespacesAndNewlines)
            try TestFiles.write(allowedSigners, "publisher@example namespaces=\"smart-sync\" \(publicKey)\n")
            try FileManager.default.createDirectory(atPath: emptyPath, withIntermediateDirectories: false)
        }

        /// A second key, not in the allowed signers.
        func stranger() throws -> String {
            let path = directory.appending("stranger")
            if !TestFiles.exists(path) {
                try ProcessRunner.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "x", "-f", path])
            }
            return path
        }
    }

    private func run(_ setup: MirrorSetup, _ keys: Keys, mirrors: [String], ref: String = "main") throws
        -> ProcessResult
    {
        try setup.run(
            mirrors: mirrors, ["--trusted-key", keys.allowedSigners, "--ref", ref, "-v"],
            environment: ["PATH": keys.emptyPath])
    }

    @Test func theSignedRefsResolveAndTheOriginIsNeverContacted() throws {
        let (setup, keys) = (try MirrorSetup(), try Keys())
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        try MirrorLayout.sign(setup.directory("m1"), key: keys.key)
        let r = try run(setup, keys, mirrors: ["m1"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(try setup.scenario.server.requests().isEmpty)
        #expect(r.stderrString.contains("publisher@example"))
    }

    @Test func aBadSignatureIsRefusedAndTheNextMirrorsRefsAreTaken() throws {
        let (setup, keys) = (try MirrorSetup(), try Keys())
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        try MirrorLayout.sign(setup.directory("m1"), key: try keys.stranger())
        let alone = try run(setup, keys, mirrors: ["m1"])
        #expect(alone.status == 6, "\(alone.stderrString)")
        #expect(alone.stderrString.contains("no line of \(keys.allowedSigners) lists the signing ED25519 key"))
        #expect(alone.stderrString.contains(setup.url("m1") + "/refs.sig"))
        #expect(!TestFiles.exists(setup.scenario.target + "/README.md"))
        // Altered after signing: refused too.
        try setup.publish("m2", refs: ["main": a], packs: false)
        try MirrorLayout.sign(setup.directory("m2"), key: keys.key)
        let refs = setup.directory("m2") + "/refs"
        try TestFiles.write(
            refs, try #require(TestFiles.read(refs)).replacingOccurrences(of: "\"main\"", with: "\"main\" "))
        let altered = try run(setup, keys, mirrors: ["m2"])
        #expect(altered.status == 6, "\(altered.stderrString)")
        #expect(altered.stderrString.contains("does not verify"))
        // A good mirror after the bad one: its refs are taken.
        try setup.publish("m3", refs: ["main": a], packs: false)
        try MirrorLayout.sign(setup.directory("m3"), key: keys.key)
        let r = try run(setup, keys, mirrors: ["m1", "m3"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(try setup.scenario.server.requests().isEmpty)
    }

    /// The allowed-signers file is parsed when the run starts: a key anyone could sign for (an ECDSA point at
    /// infinity) is a usage error naming the file and line, before any mirror is asked.
    @Test func aTrustedKeyFileWithAForgeableKeyIsRefusedUpFront() throws {
        let (setup, keys) = (try MirrorSetup(), try Keys())
        let infinity = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAAABAA=="
        try TestFiles.write(keys.allowedSigners, "# pinned\nmallory ecdsa-sha2-nistp256 \(infinity)\n")
        let r = try run(setup, keys, mirrors: ["m1"])
        #expect(r.status == 64, "\(r.stderrString)")
        #expect(r.stderrString.contains("\(keys.allowedSigners):2: malformed public key"), "\(r.stderrString)")
        #expect(setup.requests("m1").isEmpty)
    }

    @Test func anExpiredPointerIsRefused() throws {
        let (setup, keys) = (try MirrorSetup(), try Keys())
        let a = try Fixtures.commitA(setup.repo)
        let now = Int(Date().timeIntervalSince1970)
        try setup.publish(
            "m1", refs: ["main": a], published: now - 10 * 86_400, expires: now - 3 * 86_400, packs: false)
        try MirrorLayout.sign(setup.directory("m1"), key: keys.key)
        let r = try run(setup, keys, mirrors: ["m1"])
        #expect(r.status == 6, "\(r.stderrString)")
        #expect(r.stderrString.contains("expired"))
        #expect(try setup.scenario.server.requests().isEmpty)
    }

    @Test func aReplayedOlderPointerOrOneForAnotherRepositoryIsRefused() throws {
        let (setup, keys) = (try MirrorSetup(), try Keys())
        let a = try Fixtures.commitA(setup.repo)
        let b = try Fixtures.commitB(setup.repo)
        let now = Int(Date().timeIntervalSince1970)
        try setup.publishSigned("m1", refs: ["main": a], published: now - 100, key: keys.key)
        try setup.publishSigned("m2", refs: ["main": b], published: now - 50, key: keys.key)
        let newer = try run(setup, keys, mirrors: ["m2"])
        #expect(newer.status == 0, "\(newer.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(b)
        // m1 still serves the older pointer (to A): a replay, refused; the target stays at B.
        let replay = try run(setup, keys, mirrors: ["m1"])
        #expect(replay.status == 6, "\(replay.stderrString)")
        #expect(replay.stderrString.contains("replay"))
        try setup.scenario.expectTargetEqualsArchive(b)
        // A pointer signed for another repository.
        try MirrorLayout.publish(
            setup.repo, refs: ["main": b], head: "main", to: setup.directory("m3"), repository: "acme/other",
            packs: false)
        try MirrorLayout.sign(setup.directory("m3"), key: keys.key)
        let foreign = try run(setup, keys, mirrors: ["m3"])
        #expect(foreign.status == 6, "\(foreign.stderrString)")
        #expect(foreign.stderrString.contains("acme/other"))
        #expect(try setup.scenario.server.requests().isEmpty)
    }

    @Test func aConfiguredTargetsMirrorsAndTrustedKeyAreUsed() throws {
        let (setup, keys) = (try MirrorSetup(), try Keys())
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        try MirrorLayout.sign(setup.directory("m1"), key: keys.key)
        let s = setup.scenario
        let config = s.dirs.appending("config.toml")
        try TestFiles.write(
            config,
            """
            [store]
            path = "\(s.store)"
            state = "\(s.stateDir)"

            [target.hv]
            repo = "\(s.slug)"
            path = "\(s.target)"
            api_url = "\(s.server.apiURL)"
            git_url = "\(s.server.gitURL)"
            mirrors = ["\(setup.url("m1"))"]
            trusted_key = "\(keys.allowedSigners)"

            """)
        let r = try SmartSyncBinary.run(
            ["sync", "hv", "--config", config], environment: s.environment().merging(["PATH": keys.emptyPath]) { $1 },
            check: false)
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        #expect(try s.server.requests().isEmpty)
        #expect(!setup.objectRequests("m1").isEmpty)
    }
}
