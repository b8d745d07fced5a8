import Foundation
@testable import SmartSyncSignatures
import TestSupport
import Testing

/// Signatures ssh-keygen verifies but this module refuses on purpose, with messages saying what is supported; and
/// SHA-1 RSA signatures, which both refuse.
@Suite struct UnsupportedSignatureTests {
    let message = Array("payload\n".utf8)

    @Test func dsaSignatureIsRefusedNamingTheSupportedTypes() throws {
        let lab = try SigningLab()
        let dsa = try lab.makeKey("old", type: "dsa")
        let signature = try lab.sign(message, key: dsa, namespace: "smart-sync")
        let error = #expect(throws: SmartSyncError.self) { try SSHSignature(armored: signature, source: "refs.sig") }
        #expect(error?.code == .integrity)
        #expect(
            error?.message.contains("refs.sig: ssh-dss keys are not supported") == true, "\(String(describing: error))")
        #expect(error?.message.contains("ssh-ed25519, ecdsa-sha2-nistp256") == true)
    }

    @Test func certificateSignatureIsRefused() throws {
        let lab = try SigningLab()
        let ca = try lab.makeKey("ca", type: "ed25519")
        let alice = try lab.makeKey("alice", type: "ed25519")
        try ProcessRunner.run(
            "ssh-keygen", ["-q", "-s", ca, "-I", "alice", "-n", "alice", alice + ".pub"],
            environment: SigningLab.environment)
        let signature = try lab.sign(message, key: alice + "-cert.pub", namespace: "smart-sync")
        // ssh-keygen verifies it through a cert-authority line ...
        let allowed = "alice cert-authority \(try lab.publicKey(ca))\n"
        let allowedPath = try lab.write(Array(allowed.utf8), name: "allowed_signers")
        #expect(
            try lab.sshKeygenVerifies(
                message, signature: signature, allowedSigners: allowedPath, principal: "alice", namespace: "smart-sync",
                time: "20250601120000Z"))
        // ... which this module refuses, as it refuses the certificate itself.
        #expect(throws: SmartSyncError.self) { try AllowedSigners(contentsOf: allowedPath) }
        let error = #expect(throws: SmartSyncError.self) { try SSHSignature(armored: signature, source: "refs.sig") }
        #expect(error?.hint?.contains("certificates are not supported") == true, "\(String(describing: error))")
    }

    /// An SSHSIG over `message` made by hand with openssl: RSA PKCS#1 v1.5 with `digest`, labelled `type`.
    private func handMadeRSASignature(lab: SigningLab, key: String, type: String, digest: String) throws -> [UInt8] {
        let publicBlob = Crafted.keyBlob(ofPublicKeyLine: try lab.publicKey(key))
        let hashed = try ProcessRunner.run("openssl", ["dgst", "-sha512", "-binary"], input: message).stdout
        var signed = SSHWireWriter()
        signed.raw(Array("SSHSIG".utf8))
        for field in ["smart-sync", "", "sha512"] { signed.string(Array(field.utf8)) }
        signed.string(hashed)
        let rsa = try ProcessRunner.run("openssl", ["dgst", "-\(digest)", "-sign", key], input: signed.bytes).stdout
        return Crafted.armor(Crafted.sshsig(keyBlob: publicBlob, value: Crafted.wire(Crafted.utf8(type), rsa)))
    }

    @Test func sha1RSASignatureIsRefusedLikeSSHKeygen() throws {
        let lab = try SigningLab()
        let key = lab.directory["rsa"]
        try ProcessRunner.run(
            "ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", key],
            environment: SigningLab.environment)
        let allowed = "rob \(try lab.publicKey(key))\n"
        let allowedPath = try lab.write(Array(allowed.utf8), name: "allowed_signers")
        let signers = try AllowedSigners(text: allowed, source: "allowed_signers")
        func verdicts(_ signature: [UInt8]) throws -> (theirs: Bool, ours: Result<VerifiedSigner, any Error>) {
            let theirs = try lab.sshKeygenVerifies(
                message, signature: signature, allowedSigners: allowedPath, principal: "rob", namespace: "smart-sync",
                time: "20250601120000Z")
            let ours = Result {
                try signers.verify(
                    message, signature: SSHSignature(armored: signature, source: "sig"), namespace: "smart-sync",
                    at: Date())
            }
            return (theirs, ours)
        }
        // The hand-made signature is right: labelled rsa-sha2-512 and made with SHA-512, both accept it.
        let sha512 = try verdicts(handMadeRSASignature(lab: lab, key: key, type: "rsa-sha2-512", digest: "sha512"))
        #expect(sha512.theirs)
        #expect((try? sha512.ours.get())?.principal == "rob")
        // The same with SHA-1, labelled ssh-rsa: both refuse.
        let sha1 = try verdicts(handMadeRSASignature(lab: lab, key: key, type: "ssh-rsa", digest: "sha1"))
        #expect(!sha1.theirs)
        #expect(throws: SmartSyncError.self) { try sha1.ours.get() }
        if case .failure(let error as SmartSyncError) = sha1.ours {
            #expect(error.message.contains("SHA-1 (ssh-rsa)"), "\(error)")
        }
    }
}
