import Foundation
import SmartSyncGitObjects
import SmartSyncSignatures
import TestSupport
import Testing

/// `CommitSignature.verify` reaches `git verify-commit`'s verdict (gpg.format=ssh, gpg.ssh.allowedSignersFile) on
/// commits signed by the real git.
@Suite struct CommitSignatureAgreementTests {
    /// A repository with one commit signed by `alice` (committer time 2024-01-01T00:00:00Z, the fixture's).
    struct SignedRepository {
        let lab: SigningLab
        let repo: GitFixture
        let alice: String
        let mallory: String

        init() throws {
            lab = try SigningLab()
            alice = try lab.makeKey("alice", type: "ed25519")
            mallory = try lab.makeKey("mallory", type: "ed25519")
            repo = try GitFixture()
            try repo.write("README", "signed\n")
            try repo.git("add", "-A")
        }

        /// Commits the staged tree, signed by `key` when given; returns the commit id.
        func commit(_ message: String, signedBy key: String?) throws -> String {
            let signing = key.map { ["-c", "gpg.format=ssh", "-c", "user.signingkey=\($0)"] } ?? []
            _ = try repo.gitResult(
                signing + ["commit", "-q", "--allow-empty", key == nil ? "--no-gpg-sign" : "-S", "-m", message])
            return try repo.git("rev-parse", "HEAD")
        }

        /// The commit object's body.
        func body(_ id: String) throws -> [UInt8] { try repo.gitResult(["cat-file", "commit", id]).stdout }

        /// Writes a commit object as it is (no checks) and returns its id.
        func writeCommit(_ body: [UInt8]) throws -> String {
            try repo.gitResult(["hash-object", "-t", "commit", "-w", "--literally", "--stdin"], input: body).output
        }

        /// `git verify-commit`'s verdict with `allowed` as the allowed-signers file.
        func gitVerifies(_ id: String, allowed: String) throws -> Bool {
            let path = try lab.write(Array(allowed.utf8), name: "allowed_signers")
            return try repo.gitResult(
                ["-c", "gpg.ssh.allowedSignersFile=\(path)", "verify-commit", id], check: false
            ).succeeded
        }

        /// Expects git verify-commit and us to reach each case's verdict (name, allowed-signers text, accepted).
        func expectAgreement(_ id: String, _ cases: [(String, String, Bool)]) throws {
            for (name, allowed, expected) in cases {
                let git = try gitVerifies(id, allowed: allowed)
                let (ours, error) = try ourVerdict(id, allowed: allowed)
                #expect(git == expected, "git verify-commit on \(name)")
                #expect(ours == git, "git and smart-sync disagree on \(name): \(String(describing: error))")
            }
        }

        /// Our verdict, and the error when refused.
        func ourVerdict(_ id: String, allowed: String) throws -> (Bool, SmartSyncError?) {
            let signers = try AllowedSigners(text: allowed, source: "allowed_signers")
            do {
                let signer = try CommitSignature.verify(
                    commit: #require(ObjectID(hex: id)), body: body(id), allowedSigners: signers)
                #expect(!signer.principal.isEmpty)
                return (true, nil)
            } catch let error as SmartSyncError {
                #expect(error.code == .integrity)
                #expect(error.message.contains(id), "the error names the commit: \(error)")
                return (false, error)
            }
        }
    }

    @Test func signedCommitAgreesWithGitVerifyCommit() throws {
        let setup = try SignedRepository()
        let id = try setup.commit("signed", signedBy: setup.alice)
        let alice = try setup.lab.publicKey(setup.alice)
        let mallory = try setup.lab.publicKey(setup.mallory)
        let cases: [(String, String, Bool)] = [
            ("good", "alice@example.com \(alice)\n", true),
            ("good, git namespace allowed", "alice@example.com namespaces=\"git\" \(alice)\n", true),
            // Now is long after valid-before: only checking at the committer time accepts it, as git does.
            (
                "window around the committer time",
                "alice@example.com valid-after=\"20231201\",valid-before=\"20240201\" \(alice)\n", true
            ),
            ("unknown key", "alice@example.com \(mallory)\n", false),
            (
                "valid-before predates the committer time", "alice@example.com valid-before=\"20231231\" \(alice)\n",
                false
            ),
            ("valid-after follows the committer time", "alice@example.com valid-after=\"20240102\" \(alice)\n", false),
            ("namespaces excludes git", "alice@example.com namespaces=\"smart-sync\" \(alice)\n", false),
        ]
        try setup.expectAgreement(id, cases)
    }

    @Test func principalIsTheAllowedSignersOne() throws {
        let setup = try SignedRepository()
        let id = try setup.commit("signed", signedBy: setup.alice)
        let signers = try AllowedSigners(
            text: "bob@example.com \(try setup.lab.publicKey(setup.mallory))\n"
                + "alice@example.com,ops \(try setup.lab.publicKey(setup.alice))\n",
            source: "allowed_signers")
        let signer = try CommitSignature.verify(
            commit: #require(ObjectID(hex: id)), body: setup.body(id), allowedSigners: signers)
        #expect(signer.principal == "alice@example.com")
        let fingerprint = try ProcessRunner.run("ssh-keygen", ["-l", "-f", setup.alice + ".pub"]).output
        #expect(fingerprint.contains(signer.fingerprint))
    }

    @Test func changedCommitUnsignedAndOpenPGPAreRefusedLikeGit() throws {
        let setup = try SignedRepository()
        let allowed = "alice@example.com \(try setup.lab.publicKey(setup.alice))\n"
        let signed = try setup.commit("signed", signedBy: setup.alice)
        let unsigned = try setup.commit("unsigned", signedBy: nil)
        // The signed commit with its message changed: the signature no longer covers it.
        var changedBody = try setup.body(signed)
        changedBody += Array("more\n".utf8)
        let changed = try setup.writeCommit(changedBody)
        // A hand-made commit with an OpenPGP signature header.
        let plain = String(decoding: try setup.body(unsigned), as: UTF8.self)
        let pgp = plain.replacingOccurrences(
            of: "\n\nunsigned",
            with: "\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n =abcd\n"
                + " -----END PGP SIGNATURE-----\n\nunsigned")
        let openPGP = try setup.writeCommit(Array(pgp.utf8))
        let expectations = [
            (changed, "does not verify"), (unsigned, "is not signed"),
            (openPGP, "signed with OpenPGP; only SSH signatures are supported"),
        ]
        for (id, phrase) in expectations {
            #expect(try !setup.gitVerifies(id, allowed: allowed), "git verify-commit accepts \(id)")
            let (ours, error) = try setup.ourVerdict(id, allowed: allowed)
            #expect(!ours)
            #expect(error?.message.contains(phrase) == true, "\(String(describing: error))")
        }
    }

    @Test func bodyMustHashToTheCommitID() throws {
        let setup = try SignedRepository()
        let signed = try setup.commit("signed", signedBy: setup.alice)
        let other = try setup.commit("other", signedBy: setup.alice)
        let signers = try AllowedSigners(text: "a \(try setup.lab.publicKey(setup.alice))\n", source: "allowed_signers")
        let error = #expect(throws: SmartSyncError.self) {
            try CommitSignature.verify(
                commit: #require(ObjectID(hex: other)), body: setup.body(signed), allowedSigners: signers)
        }
        #expect(error?.message.contains("does not hash to its id") == true)
    }

    /// A commit whose committer time is 0: git passes no `-Overify-time` then, so ssh-keygen checks at now; a key
    /// whose valid-before has passed must not verify it (checking at 1970 would accept any expired key).
    @Test func committerTimeZeroIsCheckedAtNowLikeGit() throws {
        let setup = try SignedRepository()
        let unsigned = String(decoding: try setup.body(setup.commit("epoch", signedBy: nil)), as: UTF8.self)
        let committer = try #require(unsigned.split(separator: "\n").first { $0.hasPrefix("committer ") })
        let payload = unsigned.replacingOccurrences(
            of: String(committer), with: committer.split(separator: ">")[0] + "> 0 +0000")
        #expect(payload.contains("> 0 +0000\n"))
        // Signed as git signs: the payload in namespace git, the armor as a gpgsig header before the message.
        let armored = try setup.lab.sign(Array(payload.utf8), key: setup.alice, namespace: "git")
        let header = "gpgsig " + String(decoding: armored.dropLast(), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: "\n ") + "\n"
        let split = try #require(payload.range(of: "\n\n"))
        let body = String(payload[..<split.lowerBound]) + "\n" + header + "\n" + String(payload[split.upperBound...])
        let id = try setup.writeCommit(Array(body.utf8))
        let alice = try setup.lab.publicKey(setup.alice)
        let cases: [(String, String, Bool)] = [
            ("no validity options", "alice@example.com \(alice)\n", true),
            ("valid-before passed, after 1970", "alice@example.com valid-before=\"20200101\" \(alice)\n", false),
        ]
        try setup.expectAgreement(id, cases)
    }

    /// A commit body over the cap is refused before it is hashed or parsed.
    @Test func oversizedCommitBodyIsRefused() throws {
        let setup = try SignedRepository()
        let signed = try setup.body(setup.commit("signed", signedBy: setup.alice))
        let body = signed + [UInt8](repeating: UInt8(ascii: "x"), count: CommitSignature.bodyLimit)
        let id = ObjectID.hash(.commit, body)
        let signers = try AllowedSigners(text: "a \(try setup.lab.publicKey(setup.alice))\n", source: "allowed")
        let error = #expect(throws: SmartSyncError.self) {
            try CommitSignature.verify(commit: id, body: body, allowedSigners: signers)
        }
        #expect(error?.code == .integrity)
        #expect(error?.message.contains("commit \(id) is \(body.count) bytes, more than the 1048576") == true)
    }
}
