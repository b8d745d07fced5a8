import Foundation
import SmartSyncSignatures
import TestSupport
import Testing

/// One verification to run through both ssh-keygen and ``AllowedSigners``.
struct SignatureCase: CustomStringConvertible {
    var name: String
    /// The allowed-signers file.
    var allowed: String
    /// The principal asked for; nil does what git does (find-principals, then verify each).
    var principal: String?
    /// The namespace the verifier asks for.
    var namespace = "smart-sync"
    /// The message verified (the signed one, or a changed one).
    var message: [UInt8]
    /// The verdict both must reach.
    var accepted: Bool

    var description: String { name }
}

/// Runs cases through `ssh-keygen -Y verify` / `-Y find-principals` and through this module, at one verify time.
struct SignatureCorpus {
    let lab: SigningLab
    /// `-Overify-time` for ssh-keygen, and the same instant for us.
    var sshTime = "20250601120000Z"
    var time = Date(timeIntervalSince1970: 1_748_779_200)

    /// Expects ssh-keygen and this module to agree with each other and with `expected.accepted`, and
    /// `findPrincipals` to print what `ssh-keygen -Y find-principals` prints.
    func check(_ expected: SignatureCase, signature: [UInt8]) throws {
        let allowedPath = try lab.write(Array(expected.allowed.utf8), name: "allowed_signers")
        let found = try lab.sshKeygenFindPrincipals(signature: signature, allowedSigners: allowedPath, time: sshTime)
        let theirs: Bool
        if let principal = expected.principal {
            theirs = try sshKeygenVerifies(
                expected, signature: signature, allowedPath: allowedPath, principal: principal)
        } else {
            theirs = try (found ?? []).contains {
                try sshKeygenVerifies(expected, signature: signature, allowedPath: allowedPath, principal: $0)
            }
        }
        let signers = try AllowedSigners(contentsOf: allowedPath)
        var ours = false
        do {
            let parsed = try SSHSignature(armored: signature, source: "case \(expected.name)")
            #expect(signers.findPrincipals(for: parsed.publicKey, at: time) == found, "find-principals: \(expected)")
            let signer = try signers.verify(
                expected.message, signature: parsed, namespace: expected.namespace, principal: expected.principal,
                at: time)
            #expect(signer.fingerprint == parsed.publicKey.fingerprint)
            ours = true
        } catch let error as SmartSyncError {
            #expect(error.code == .integrity, "\(expected): \(error)")
            #expect(error.message.contains("case \(expected.name)"), "the error names the signature: \(error)")
        }
        #expect(ours == theirs, "ssh-keygen and smart-sync disagree on \(expected)")
        #expect(ours == expected.accepted, "\(expected)")
    }

    private func sshKeygenVerifies(
        _ expected: SignatureCase, signature: [UInt8], allowedPath: String, principal: String
    ) throws -> Bool {
        try lab.sshKeygenVerifies(
            expected.message, signature: signature, allowedSigners: allowedPath, principal: principal,
            namespace: expected.namespace, time: sshTime)
    }
}
