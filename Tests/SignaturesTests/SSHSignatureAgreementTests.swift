import Foundation
import SmartSyncSignatures
import TestSupport
import Testing

/// ssh-keygen and AllowedSigners reach the same verdict on a corpus of signatures made by the real ssh-keygen.
@Suite struct SSHSignatureAgreementTests {
    let message = Array("refs/heads/main 0123456789abcdef0123456789abcdef01234567\n".utf8)

    @Test func ed25519CorpusAgreesWithSSHKeygen() throws {
        let lab = try SigningLab()
        let alice = try lab.makeKey("alice", type: "ed25519")
        let mallory = try lab.makeKey("mallory", type: "ed25519")
        let aliceKey = try lab.publicKey(alice)
        let malloryKey = try lab.publicKey(mallory)
        let signature = try lab.sign(message, key: alice, namespace: "smart-sync")
        let corpus = SignatureCorpus(lab: lab)
        let cases = [
            SignatureCase(
                name: "good", allowed: "alice@example.com \(aliceKey)\n", principal: "alice@example.com",
                message: message, accepted: true),
            SignatureCase(
                name: "good, principal found", allowed: "# signers\n\nalice@example.com,ops \(aliceKey)\n",
                principal: nil, message: message, accepted: true),
            SignatureCase(
                name: "bad signature", allowed: "alice@example.com \(aliceKey)\n",
                principal: "alice@example.com", message: message + Array("x".utf8), accepted: false),
            SignatureCase(
                name: "unknown key", allowed: "alice@example.com \(malloryKey)\n",
                principal: "alice@example.com", message: message, accepted: false),
            SignatureCase(
                name: "unknown key, no principal", allowed: "alice@example.com \(malloryKey)\n",
                principal: nil, message: message, accepted: false),
            SignatureCase(
                name: "other principal", allowed: "bob@example.com \(aliceKey)\n",
                principal: "alice@example.com", message: message, accepted: false),
            SignatureCase(
                name: "pattern principal", allowed: "*@example.com \(aliceKey)\n",
                principal: "alice@example.com", message: message, accepted: true),
            SignatureCase(
                name: "negated principal", allowed: "!alice@example.com,*@example.com \(aliceKey)\n",
                principal: "alice@example.com", message: message, accepted: false),
            SignatureCase(
                name: "wrong namespace", allowed: "alice@example.com \(aliceKey)\n",
                principal: "alice@example.com", namespace: "git", message: message, accepted: false),
            SignatureCase(
                name: "namespaces option excludes it",
                allowed: "alice@example.com namespaces=\"git,file\" \(aliceKey)\n",
                principal: "alice@example.com", message: message, accepted: false),
            SignatureCase(
                name: "namespaces option pattern allows it",
                allowed: "alice@example.com namespaces=\"git,smart-*\" \(aliceKey)\n",
                principal: nil, message: message, accepted: true),
            SignatureCase(
                name: "namespaces option, second line allows it",
                allowed: "alice@example.com namespaces=\"git\" \(aliceKey)\nalice@example.com \(aliceKey)\n",
                principal: "alice@example.com", message: message, accepted: true),
            SignatureCase(
                name: "expired", allowed: "alice@example.com valid-before=\"20250101\" \(aliceKey)\n",
                principal: "alice@example.com", message: message, accepted: false),
            SignatureCase(
                name: "expired, no principal",
                allowed: "alice@example.com valid-before=\"20250601115959Z\" \(aliceKey)\n",
                principal: nil, message: message, accepted: false),
            SignatureCase(
                name: "valid-before is inclusive",
                allowed: "alice@example.com valid-before=\"20250601120000Z\" \(aliceKey)\n",
                principal: "alice@example.com", message: message, accepted: true),
            SignatureCase(
                name: "not yet valid", allowed: "alice@example.com valid-after=\"20250601120001Z\" \(aliceKey)\n",
                principal: "alice@example.com", message: message, accepted: false),
            SignatureCase(
                name: "inside the window",
                allowed: "alice@example.com valid-after=\"202501010000\",valid-before=\"20260101\" \(aliceKey)\n",
                principal: nil, message: message, accepted: true),
        ]
        for signatureCase in cases { try corpus.check(signatureCase, signature: signature) }
    }

    @Test func sha256HashAlgorithmVerifies() throws {
        let lab = try SigningLab()
        let alice = try lab.makeKey("alice", type: "ed25519")
        let signature = try lab.sign(message, key: alice, namespace: "smart-sync", hash: "sha256")
        #expect(try SSHSignature(armored: signature, source: "sig").hashAlgorithm == "sha256")
        let allowed = "alice \(try lab.publicKey(alice))\n"
        try SignatureCorpus(lab: lab).check(
            SignatureCase(name: "sha256", allowed: allowed, principal: "alice", message: message, accepted: true),
            signature: signature)
    }

    @Test(arguments: [("rsa", 2048), ("ecdsa", 256), ("ecdsa", 384), ("ecdsa", 521)])
    func otherKeyTypesAgreeWithSSHKeygen(type: String, bits: Int) throws {
        let lab = try SigningLab()
        let key = try lab.makeKey("signer", type: type, bits: bits)
        let other = try lab.makeKey("other", type: type, bits: bits)
        let signature = try lab.sign(message, key: key, namespace: "smart-sync")
        let allowed = "signer@example.com \(try lab.publicKey(key))\n"
        let corpus = SignatureCorpus(lab: lab)
        try corpus.check(
            SignatureCase(
                name: "\(type)-\(bits) good", allowed: allowed, principal: nil, message: message,
                accepted: true),
            signature: signature)
        try corpus.check(
            SignatureCase(
                name: "\(type)-\(bits) bad", allowed: allowed, principal: "signer@example.com",
                message: Array(message.dropLast()), accepted: false),
            signature: signature)
        try corpus.check(
            SignatureCase(
                name: "\(type)-\(bits) unknown", allowed: "signer@example.com \(try lab.publicKey(other))\n",
                principal: "signer@example.com", message: message, accepted: false),
            signature: signature)
    }

    @Test func malformedArmorIsRefusedByBoth() throws {
        let lab = try SigningLab()
        let alice = try lab.makeKey("alice", type: "ed25519")
        let good = try lab.sign(message, key: alice, namespace: "smart-sync")
        let text = String(decoding: good, as: UTF8.self)
        let allowedPath = try lab.write(Array("alice \(try lab.publicKey(alice))\n".utf8), name: "allowed_signers")
        let damaged = [
            ("no header", String(text.drop { $0 != "\n" }.dropFirst())),
            ("no footer", text.replacingOccurrences(of: "-----END SSH SIGNATURE-----", with: "")),
            ("bad base64", text.replacingOccurrences(of: "U1NIU0lH", with: "U1NIU0l*")),
            ("truncated blob", text.replacingOccurrences(of: "\n-----END", with: "AAAA\n-----END")),
            ("a PGP signature", "-----BEGIN PGP SIGNATURE-----\n\niQ==\n-----END PGP SIGNATURE-----\n"),
        ]
        for (name, armored) in damaged {
            let bytes = Array(armored.utf8)
            #expect(
                try !lab.sshKeygenVerifies(
                    message, signature: bytes, allowedSigners: allowedPath, principal: "alice",
                    namespace: "smart-sync", time: "20250601120000Z"),
                "ssh-keygen accepts \(name)")
            let error = #expect(throws: SmartSyncError.self, "\(name)") {
                try SSHSignature(armored: bytes, source: "refs.sig")
            }
            #expect(error?.code == .integrity)
            #expect(error?.message.contains("refs.sig") == true, "\(name): \(String(describing: error))")
        }
    }
}
