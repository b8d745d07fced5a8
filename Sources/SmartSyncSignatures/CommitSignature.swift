import Foundation
import SmartSyncCore
import SmartSyncGitObjects

/// The SSH signature of a git commit (`git commit -S` with `gpg.format=ssh`), checked as `git verify-commit` checks
/// it with `gpg.ssh.allowedSignersFile`.
public enum CommitSignature {
    /// The namespace git signs commits in.
    public static let namespace = "git"

    /// Verifies the signature in the `gpgsig` header of commit `commit`, whose object body (without the
    /// `commit <size>\0` header) is `body`: the signed payload is the body without that header, the namespace is
    /// `git`, and the signer is looked up as git does (``AllowedSigners/verify(_:signature:namespace:principal:at:)``
    /// with no principal), with `valid-after` / `valid-before` checked at the committer time (git passes it as
    /// `-Overify-time`).
    ///
    /// - Throws: `SmartSyncError(.integrity)` naming the commit when `body` does not hash to `commit`, the commit is
    ///   unsigned, signed with OpenPGP or X.509, or its signature does not verify for a principal in
    ///   `allowedSigners`.
    public static func verify(commit: ObjectID, body: [UInt8], allowedSigners: AllowedSigners) throws
        -> VerifiedSigner
    {
        let name = "commit \(commit)"
        guard ObjectID.hash(.commit, body) == commit else {
            throw SmartSyncError(.integrity, "\(name): the commit object given does not hash to its id")
        }
        let parts = SignedCommit(body: body)
        guard let armored = parts.signature else {
            throw SmartSyncError(
                .integrity, "\(name) is not signed",
                hint: "sign commits with git commit -S (gpg.format=ssh), or drop the signed-commit requirement")
        }
        if let other = foreignFormat(of: armored) {
            throw SmartSyncError(
                .integrity, "\(name) is signed with \(other); only SSH signatures are supported",
                hint: "sign commits with an SSH key (git config gpg.format ssh)")
        }
        guard let committerTime = parts.committerTime else {
            throw SmartSyncError(.integrity, "\(name) has no committer time to check the signing key's validity at")
        }
        let signature = try SSHSignature(armored: armored, source: name)
        return try allowedSigners.verify(
            parts.payload, signature: signature, namespace: namespace,
            at: Date(timeIntervalSince1970: TimeInterval(committerTime)))
    }

    /// The other signature formats git knows (`gpg-interface.c`), by their armor's first line.
    private static func foreignFormat(of armored: [UInt8]) -> String? {
        let formats = [
            ("-----BEGIN PGP SIGNATURE-----", "OpenPGP"), ("-----BEGIN PGP MESSAGE-----", "OpenPGP"),
            ("-----BEGIN SIGNED MESSAGE-----", "X.509 (gpgsm)"),
        ]
        return formats.first { armored.starts(with: Array($0.0.utf8)) }?.1
    }
}
