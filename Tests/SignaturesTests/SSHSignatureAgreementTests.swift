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
        /// An allowed-signers line listing `key` (alice's by default) for `principals`, with `options`.
        func line(_ options: String = "", principals: String = "alice@example.com", key: String? = nil) -> String {
            "\(principals) \(options.isEmpty ? "" : options + " ")\(key ?? aliceKey)\n"
        }
        /// A case verifying alice's signature of `message` (or of `changed`).
        func check(
            _ name: String, _ allowed: String, principal: String? = "alice@example.com",
            namespace: String = "smart-sync", changed: [UInt8]? = nil, accepted: Bool
        ) throws {
            try corpus.check(
                SignatureCase(
                    name: name, allowed: allowed, principal: principal, namespace: namespace,
                    message: changed ?? message, accepted: accepted),
                signature: signature)
        }
        try check("good", line(), accepted: true)
        try check(
            "good, principal found", "# signers\n\n" + line(principals: "alice@example.com,ops"),
            principal: nil, accepted: true)
        try check("bad signature", line(), changed: message + Array("x".utf8), accepted: false)
        try check("unknown key", line(key: malloryKey), accepted: false)
        try check("unknown key, no principal", line(key: malloryKey), principal: nil, accepted: false)
        try check("other principal", line(principals: "bob@example.com"), accepted: false)
        try check("pattern principal", line(principals: "*@example.com"), accepted: true)
        try check("negated principal", line(principals: "!alice@example.com,*@example.com"), accepted: false)
        try check("wrong namespace", line(), namespace: "git", accepted: false)
        try check("namespaces option excludes it", line("namespaces=\"git,file\""), accepted: false)
        try check(
            "namespaces option pattern allows it", line("namespaces=\"git,smart-*\""), principal: nil,
            accepted: true)
        try check("namespaces option, second line allows it", line("namespaces=\"git\"") + line(), accepted: true)
        try check("expired", line("valid-before=\"20250101\""), accepted: false)
        try check("expired, no principal", line("valid-before=\"20250601115959Z\""), principal: nil, accepted: false)
        try check("valid-before is inclusive", line("valid-before=\"20250601120000Z\""), accepted: true)
        try check("not yet valid", line("valid-after=\"20250601120001Z\""), accepted: false)
        try check(
            "inside the window", line("valid-after=\"202501010000\",valid-before=\"20260101\""),
            principal: nil, accepted: true)
    }

    @Test func sha256HashAlgorithmVerifies() throws {
        let lab = try SigningLab()
        let alice = try lab.makeKey("alice", type: "ed25519")
        let signature = try lab.sign(message, key: alice, namespace: "smart-sync", hash: "sha256")
        let parsed = try SSHSignature(armored: signature, source: "sig")
        #expect(parsed.hashAlgorithm == "sha256")
        #expect(parsed.namespace == "smart-sync")
        try parsed.checkWithoutSigners(message, namespace: "smart-sync")
        let error = #expect(throws: SmartSyncError.self) { try parsed.checkWithoutSigners(message, namespace: "git") }
        #expect(error?.message.contains("namespace \"smart-sync\", not \"git\"") == true)
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
        let base64 = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let blob = try #require(Data(base64Encoded: base64))
        let damaged = [
            ("no header", String(text.drop { $0 != "\n" }.dropFirst())),
            ("no footer", text.replacingOccurrences(of: "-----END SSH SIGNATURE-----", with: "")),
            ("bad base64", text.replacingOccurrences(of: "U1NIU0lH", with: "U1NIU0l*")),
            ("truncated blob", String(decoding: Crafted.armor(Array(blob.dropLast(6))), as: UTF8.self)),
            ("text after the begin line", text.replacingOccurrences(of: "-----\n", with: "----- x\n")),
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

    /// CRLF line ends (a Windows editor, a web form). ssh-keygen's `sshsig_dearmor` ignores a `\r` before each `\n`
    /// in the base64 and before the end line: both accept that. Current OpenSSH (sshsig.c, "Expect and consume
    /// preamble + lf/crlf") also takes `\r\n` after the begin line, which the 9.2 installed here refuses ("missing
    /// header"); this module takes it, as current OpenSSH does.
    @Test func crlfLineEndsAreAcceptedLikeSSHKeygen() throws {
        let lab = try SigningLab()
        let alice = try lab.makeKey("alice", type: "ed25519")
        let signature = String(decoding: try lab.sign(message, key: alice, namespace: "smart-sync"), as: UTF8.self)
        let allowed = "alice \(try lab.publicKey(alice))\n"
        let beginLine = "-----BEGIN SSH SIGNATURE-----\n"
        let afterBegin = beginLine + signature.dropFirst(beginLine.count).replacingOccurrences(of: "\n", with: "\r\n")
        #expect(afterBegin.contains("\r\n-----END SSH SIGNATURE-----\r\n"))
        try SignatureCorpus(lab: lab).check(
            SignatureCase(name: "crlf", allowed: allowed, principal: "alice", message: message, accepted: true),
            signature: Array(afterBegin.utf8))
        let everywhere = signature.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(everywhere.hasPrefix("-----BEGIN SSH SIGNATURE-----\r\n"))
        let signers = try AllowedSigners(text: allowed, source: "allowed_signers")
        let parsed = try SSHSignature(armored: Array(everywhere.utf8), source: "crlf")
        let signer = try signers.verify(message, signature: parsed, namespace: "smart-sync", at: Date())
        #expect(signer.principal == "alice")
    }

    /// Armored input is capped before it is parsed: a signature file from a mirror cannot make us decode megabytes.
    @Test func oversizedArmorIsRefusedBeforeParsing() throws {
        let lab = try SigningLab()
        let alice = try lab.makeKey("alice", type: "ed25519")
        let signature = try lab.sign(message, key: alice, namespace: "smart-sync")
        // Padded with spaces inside the base64 (which the armor ignores) to one byte over the limit.
        let padding = [UInt8](repeating: 0x20, count: SSHSignature.armoredLimit - signature.count + 1)
        let header = "-----BEGIN SSH SIGNATURE-----\n".utf8.count
        let padded = Array(signature.prefix(header)) + padding + signature.dropFirst(header)
        #expect(padded.count == SSHSignature.armoredLimit + 1)
        let error = #expect(throws: SmartSyncError.self) { try SSHSignature(armored: padded, source: "refs.sig") }
        #expect(error?.code == .integrity)
        let expected = "refs.sig is 65537 bytes, more than the 65536"
        #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
        // One byte less is parsed.
        let atLimit = Array(signature.prefix(header)) + padding.dropFirst() + signature.dropFirst(header)
        #expect(throws: Never.self) { try SSHSignature(armored: atLimit, source: "refs.sig") }
    }
}
