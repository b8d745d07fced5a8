import FoundationEssentials
import SmartSyncCore
import SmartSyncGitObjects

/// The SSH signature of a git commit (`git commit -S` with `gpg.format=ssh`), checked as `git verify-commit` checks
/// it with `gpg.ssh.allowedSignersFile`.
public enum CommitSignature {
    /// The namespace git signs commits in.
    public static let namespace = "git"
    /// The largest commit body verified (a commit of 1 MiB is already absurd): larger input from the network is
    /// refused before it is parsed or hashed.
    public static let bodyLimit = 1 << 20

    /// Verifies the signature in the `gpgsig` header of commit `commit`, whose object body (without the
    /// `commit <size>\0` header) is `body`: the signed payload is the body without that header, the namespace is
    /// `git`, and the signer is looked up as git does (``AllowedSigners/verify(_:signature:namespace:principal:at:)``
    /// with no principal), with `valid-after` / `valid-before` checked at the committer time (git passes it as
    /// `-Overify-time`), or now when that time is 0 (git passes no `-Overify-time` then).
    ///
    /// The committer time is the signer's claim: a key past its `valid-before` can still sign a commit dated
    /// before it, so deleting the key's line (not `valid-before`) revokes a key.
    ///
    /// - Throws: `SmartSyncError(.integrity)` naming the commit when `body` is larger than ``bodyLimit`` or does not
    ///   hash to `commit`, the commit is unsigned, signed with OpenPGP or X.509, or its signature does not verify
    ///   for a principal in `allowedSigners`.
    public static func verify(commit: ObjectID, body: [UInt8], allowedSigners: AllowedSigners) throws
        -> VerifiedSigner
    {
        let name = "commit \(commit)"
        guard body.count <= bodyLimit else {
            throw SmartSyncError(
                .integrity, "\(name) is \(body.count) bytes, more than the \(bodyLimit) a signed commit may have",
                hint: "a commit this large is not one git makes; check where it came from")
        }
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
        // git's verify_ssh_signed_buffer: `-Overify-time` only for a non-zero timestamp, otherwise ssh-keygen's now.
        let time = committerTime == 0 ? Date() : Date(timeIntervalSince1970: TimeInterval(committerTime))
        return try allowedSigners.verify(parts.payload, signature: signature, namespace: namespace, at: time)
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
