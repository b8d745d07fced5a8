import Foundation
import SmartSyncCore
import SmartSyncFetch

/// `--trusted-key FILE` (a target's `trusted_key`): how a run trusts its mirrors' signed `refs`.
///
/// Until SmartSyncSignatures (OpenSSL's Ed25519, in process) is in this build, signatures are checked by OpenSSH's own
/// `ssh-keygen -Y find-principals` and `-Y verify` against the allowed-signers file, namespace `smart-sync`: the
/// reference implementation, with the same semantics (the key's line, its `namespaces=`, `valid-after`/`valid-before`).
enum TrustedKey {
    /// The signature namespace of a mirror's `refs.sig`.
    static let namespace = "smart-sync"

    /// The trust for `repository`'s mirrors: `refs.sig` verified against the allowed signers in `file`; the newest
    /// accepted pointer kept in `stateDirectory`.
    static func trust(file: String, repository: String, stateDirectory: String) throws -> MirrorTrust {
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw SmartSyncError(
                .invalidArgument, "--trusted-key \(file) cannot be read",
                hint: "name an allowed_signers file (ssh-keygen(1), ALLOWED SIGNERS)")
        }
        return MirrorTrust(repository: repository, stateDirectory: stateDirectory) { message, signature, source in
            try verify(message, signature: signature, allowedSigners: file, source: source)
        }
    }

    /// Verifies `signature` over `message` with `ssh-keygen`; returns the principal. `.integrity` when refused.
    static func verify(_ message: [UInt8], signature: [UInt8], allowedSigners: String, source: String) throws -> String
    {
        let directory = NSTemporaryDirectory() + "smart-sync-sig-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let signatureFile = directory + "/refs.sig"
        try Data(signature).write(to: URL(fileURLWithPath: signatureFile))
        let environment = ["PATH": "/usr/bin:/bin:/usr/local/bin"]
        let find = try ProcessRunner(
            "ssh-keygen", ["-Y", "find-principals", "-f", allowedSigners, "-s", signatureFile],
            environment: environment
        ).runAndWait()
        let principal = String(decoding: find.stdout, as: UTF8.self).split(separator: "\n").first.map(String.init)
        guard find.succeeded, let principal else {
            throw SmartSyncError(
                .integrity, "the signature of \(source) was not made by a key in \(allowedSigners); refused",
                hint: "check --trusted-key, or sign the mirror's refs with a key listed there")
        }
        let check = try ProcessRunner(
            "ssh-keygen",
            ["-Y", "verify", "-f", allowedSigners, "-I", principal, "-n", namespace, "-s", signatureFile],
            environment: environment
        ).runAndWait(input: .bytes(message))
        guard check.succeeded else {
            let said = String(decoding: check.stderr + check.stdout, as: UTF8.self)
                .split(separator: "\n").first.map(String.init) ?? "refused"
            throw SmartSyncError(
                .integrity, "the signature of \(source) does not verify for \(principal) in namespace \(namespace) (\(said)); refused",
                hint: "the refs were altered, or signed for another namespace or outside the key's validity")
        }
        return principal
    }
}
