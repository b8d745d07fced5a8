import Foundation
import TestSupport
import Testing

/// `--require-signed-commits --allowed-signers FILE` with real `git commit -S` (gpg.format=ssh) commits: a commit
/// signed by a listed key passes and its signer is reported; unsigned and unknown-key commits are refused (exit 6) with
/// the target untouched. On the local source and against the GitHub-shaped server (raw and pack paths).
@Suite("signed commits: --require-signed-commits", .serialized)
struct SignedCommitsEndToEndTests {
    /// Two ed25519 keys (one listed in `allowed_signers`, one not) and the file.
    struct Keys {
        let dir: TemporaryDirectory
        var known: String { dir.appending("known") }
        var stranger: String { dir.appending("stranger") }
        var allowedSigners: String { dir.appending("allowed_signers") }

        init() throws {
            dir = try TemporaryDirectory(prefix: "signers")
            for key in ["known", "stranger"] {
                try ProcessRunner.run(
                    "ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", key, "-f", dir.appending(key)],
                    environment: ["PATH": "/usr/bin:/bin"])
            }
            let pub = try String(contentsOfFile: dir.appending("known.pub"), encoding: .utf8)
            let parts = pub.split(separator: " ")
            try TestFiles.write(allowedSigners, "dev@example.com namespaces=\"git\" \(parts[0]) \(parts[1])\n")
        }
    }

    /// Commits what the work tree holds, signed with `key` (nil: unsigned). Also used by the offline pin tests.
    static func commit(_ repo: GitFixture, _ message: String, signedWith key: String?) throws -> String {
        try repo.git("add", "-A")
        var args = ["commit", "-q", "--allow-empty", "--no-verify", "-m", message]
        if let key { args = ["-c", "gpg.format=ssh", "-c", "user.signingkey=\(key)"] + args + ["-S"] }
        try repo.git(args)
        return try repo.git("rev-parse", "HEAD")
    }

    private func expectRefused(
        _ r: ProcessResult, _ commit: String, _ words: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(r.status == 6, "\(r.stderrString)", sourceLocation: sourceLocation)
        #expect(
            r.stderrString.contains(commit) && r.stderrString.contains(words), "\(r.stderrString)",
            sourceLocation: sourceLocation)
    }

    @Test func localSourceSignedKnownPassesUnsignedAndUnknownAreRefused() throws {
        let keys = try Keys()
        let repo = try GitFixture()
        try repo.write("a.txt", "signed\n")
        let signed = try Self.commit(repo, "signed", signedWith: keys.known)
        // git itself agrees with the verdicts below.
        #expect(
            try repo.gitResult(
                ["-c", "gpg.ssh.allowedSignersFile=\(keys.allowedSigners)", "verify-commit", signed], check: false
            ).succeeded)
        try repo.write("b.txt", "unsigned\n")
        let unsigned = try Self.commit(repo, "unsigned", signedWith: nil)
        try repo.write("c.txt", "stranger\n")
        let stranger = try Self.commit(repo, "stranger", signedWith: keys.stranger)
        let dirs = try TemporaryDirectory(prefix: "signed")
        let target = dirs.appending("target")
        func sync(_ ref: String, _ more: [String] = []) throws -> ProcessResult {
            try SmartSyncBinary.run(
                ["sync", "--source", repo.path, "--target", target, "--store", dirs.appending("store"),
                 "--state-dir", dirs.appending("state"), "--ref", ref, "--require-signed-commits",
                 "--allowed-signers", keys.allowedSigners] + more,
                environment: ["HOME": dirs.path, "NO_COLOR": "1"], check: false)
        }
        let ok = try sync(signed, ["--json", "-v"])
        #expect(ok.status == 0, "\(ok.stderrString)")
        let signer = (try Scenario.summary(ok)["commitChecks"] as? [String: Any])?["signer"] as? [String: Any]
        #expect(signer?["principal"] as? String == "dev@example.com")
        #expect((signer?["fingerprint"] as? String)?.hasPrefix("SHA256:") == true)
        #expect(ok.stderrString.contains("signed by dev@example.com"), "-v logs the signer: \(ok.stderrString)")
        let atSigned = try DirectorySnapshot(of: target)
        expectRefused(try sync(unsigned), unsigned, "not signed")
        expectRefused(try sync(stranger), stranger, "no line of")
        #expect(try DirectorySnapshot(of: target) == atSigned)
        // plan refuses the same way.
        let plan = try SmartSyncBinary.run(
            ["plan", "--source", repo.path, "--target", target, "--store", dirs.appending("store"), "--state-dir",
             dirs.appending("state"), "--ref", unsigned, "--require-signed-commits", "--allowed-signers",
             keys.allowedSigners], environment: ["HOME": dirs.path], check: false)
        expectRefused(plan, unsigned, "not signed")
        // Without an allowed-signers file the flag is a usage error.
        let usage = try SmartSyncBinary.run(
            ["sync", "--source", repo.path, "--target", target, "--store", dirs.appending("store"), "--state-dir",
             dirs.appending("state"), "--require-signed-commits"], environment: ["HOME": dirs.path], check: false)
        #expect(usage.status == 64, "\(usage.stderrString)")
    }

    @Test(arguments: ["raw", "auto"])
    func githubPathsRebuildAndVerifyTheSignedCommit(transport: String) throws {
        let keys = try Keys()
        let s = try Scenario()
        try s.repo.write("a.txt", "signed\n")
        let signed = try Self.commit(s.repo, "signed", signedWith: keys.known)
        let flags = ["--transport", transport, "--require-signed-commits", "--allowed-signers", keys.allowedSigners]
        let summary = try s.sync(flags + ["--ref", signed])
        let signer = (summary["commitChecks"] as? [String: Any])?["signer"] as? [String: Any]
        #expect(signer?["principal"] as? String == "dev@example.com")
        try s.expectTargetEqualsArchive(signed)
        try s.repo.write("b.txt", "unsigned\n")
        let unsigned = try Self.commit(s.repo, "unsigned", signedWith: nil)
        expectRefused(
            try s.run("sync", flags + ["--ref", unsigned]), unsigned, transport == "raw" ? "unsigned" : "not signed")
        try s.repo.write("c.txt", "stranger\n")
        let stranger = try Self.commit(s.repo, "stranger", signedWith: keys.stranger)
        expectRefused(try s.run("sync", flags + ["--ref", stranger]), stranger, "no line of")
        try s.expectTargetEqualsArchive(signed)
    }

    /// `--transport pack` asks its ancestry question with the listing's pack, held unpublished: an unsigned child,
    /// a descendant by its parent line and then refused for its signature, leaves nothing of itself in the store nor
    /// in `tmp/`; a signed child costs `ls-refs` and one fetch (found in review: the refusal after the ancestry did
    /// not drop the held pack, and no test covered the path).
    @Test func packTransportDropsTheHeldPackOfACommitRefusedForItsSignature() throws {
        let keys = try Keys()
        let p = try PackTransportEndToEndTests.PackScenario()
        let repo = p.s.repo
        try repo.write("a.txt", "signed\n")
        let a = try Self.commit(repo, "A", signedWith: keys.known)
        let flags = ["--transport", "pack", "--require-signed-commits", "--allowed-signers", keys.allowedSigners]
        try p.sync(flags)
        try p.s.expectTargetEqualsArchive(a)
        func stored(_ id: String) -> Bool {
            FileManager.default.fileExists(atPath: p.s.store + "/objects/" + id.prefix(2) + "/" + id.dropFirst(2))
        }

        try repo.write("b.txt", "unsigned, only in B\n")
        let b = try Self.commit(repo, "B", signedWith: nil)
        let blob = try repo.git("rev-parse", "\(b):b.txt")
        let before = p.git.requests().count
        expectRefused(try p.run("sync", flags), b, "not signed")
        // The held pack was asked for (ls-refs, then the listing's pack), and B's parent line answered the ancestry.
        #expect(p.wireBytes(since: before).requests.map(\.method) == ["POST", "POST"])
        #expect(!stored(b) && !stored(blob), "the refused commit's objects reached the store")
        let left = try FileManager.default.contentsOfDirectory(atPath: p.s.store + "/tmp")
        #expect(left.isEmpty, "left in tmp/: \(left)")
        try p.s.expectTargetEqualsArchive(a)

        // The branch goes back to A and on to a signed C: accepted, with ls-refs and the listing's pack alone.
        try repo.git("reset", "-q", "--hard", a)
        try repo.write("c.txt", "signed again\n")
        let c = try Self.commit(repo, "C", signedWith: keys.known)
        let again = p.git.requests().count
        let summary = try p.sync(flags)
        #expect(summary["commit"] as? String == c)
        #expect(p.wireBytes(since: again).requests.map(\.method) == ["POST", "POST"])
        try p.s.expectTargetEqualsArchive(c)
        #expect(!stored(blob))
    }
}
