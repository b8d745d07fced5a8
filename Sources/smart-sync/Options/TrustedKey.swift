import FoundationEssentials
import SmartSyncCore
import SmartSyncFetch
import SmartSyncSignatures

/// `--trusted-key FILE` (a target's `trusted_key`): how a run trusts its mirrors' signed `refs`.
///
/// The file is an allowed-signers file (ssh-keygen(1), ALLOWED SIGNERS), parsed when the run starts; each `refs.sig`
/// is verified in process by SmartSyncSignatures (`AllowedSigners.verify`, namespace `smart-sync`, at the current
/// time), with `ssh-keygen -Y find-principals` then `-Y verify`'s semantics: the key's line, its `namespaces=`,
/// `valid-after` / `valid-before`. No ssh-keygen is needed on the host.
enum TrustedKey {
    /// The signature namespace of a mirror's `refs.sig`.
    static let namespace = "smart-sync"

    /// The trust for `repository`'s mirrors: `refs.sig` verified against the allowed signers in `file`; the newest
    /// accepted pointer kept in `stateDirectory`.
    ///
    /// - Throws: `SmartSyncError(.invalidArgument)` when `file` cannot be read or a line of it is malformed.
    static func trust(file: String, repository: String, stateDirectory: String) throws -> MirrorTrust {
        let signers: AllowedSigners
        do {
            signers = try AllowedSigners(contentsOf: file)
        } catch let error as SmartSyncError {
            throw SmartSyncError(
                error.code, "--trusted-key: \(error.message)",
                hint: error.hint ?? "name an allowed_signers file (ssh-keygen(1), ALLOWED SIGNERS)")
        }
        return MirrorTrust(repository: repository, stateDirectory: stateDirectory) { message, signature, source in
            try verify(message, signature: signature, allowedSigners: signers, source: source)
        }
    }

    /// Verifies the armored `signature` over `message` (`source` names the refs file) against `allowedSigners`
    /// in namespace `smart-sync`, now; returns the signer (principal and key fingerprint). `.integrity` when refused.
    static func verify(_ message: [UInt8], signature: [UInt8], allowedSigners: AllowedSigners, source: String) throws
        -> String
    {
        let parsed = try SSHSignature(armored: signature, source: source + ".sig")
        return try allowedSigners.verify(message, signature: parsed, namespace: namespace, at: Date()).description
    }
}
