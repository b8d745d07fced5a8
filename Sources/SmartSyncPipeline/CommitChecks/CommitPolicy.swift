import SmartSyncGitObjects

/// What a run demands of the commit it moves a target to (``CommitChecks``): `--allow-downgrade`,
/// `--require-signed-commits --allowed-signers FILE`.
public struct CommitPolicy: Sendable {
    /// Let a target move to a commit that is not a descendant of its current one, or whose ancestry the source cannot
    /// tell (`--allow-downgrade`, config `allow_downgrade`). `rollback` needs no such leave.
    public var allowDowngrade: Bool
    /// The check of a commit's own signature (`--require-signed-commits`); nil: signatures are not required.
    public var signatures: SignatureRequirement?

    public init(allowDowngrade: Bool = false, signatures: SignatureRequirement? = nil) {
        self.allowDowngrade = allowDowngrade
        self.signatures = signatures
    }
}

/// How a commit's signature is checked: `verify` gets the commit's id and its body (verified to hash to the id) and
/// returns the signer, or throws to refuse it (unsigned, unknown key, bad signature, expired).
public struct SignatureRequirement: Sendable {
    /// Where the allowed signers come from (`--allowed-signers FILE`), for messages.
    public var source: String
    public var verify: @Sendable (_ commit: ObjectID, _ body: [UInt8]) throws -> CommitSigner

    public init(
        source: String, verify: @escaping @Sendable (_ commit: ObjectID, _ body: [UInt8]) throws -> CommitSigner
    ) {
        self.source = source
        self.verify = verify
    }
}

/// Who signed a commit, as the allowed-signers file names them.
public struct CommitSigner: Sendable, Codable, Equatable {
    /// The principal of the allowed-signers line that holds the key.
    public var principal: String
    /// The key's fingerprint, `SHA256:…` as `ssh-keygen -l` prints it.
    public var fingerprint: String

    public init(principal: String, fingerprint: String) {
        self.principal = principal
        self.fingerprint = fingerprint
    }
}

/// What the commit checks found: printed in the summary (`commitChecks` in JSON).
public struct CommitCheckReport: Sendable, Codable, Equatable {
    /// How the new commit stands to the target's current one.
    public enum Ancestry: String, Sendable, Codable {
        /// The target has no state yet: nothing to compare with.
        case first
        /// The target is at this commit already.
        case same
        /// The new commit descends from the target's.
        case descendant
        /// `--allow-downgrade` was given: ancestry was not asked.
        case allowed
    }

    public var ancestry: Ancestry
    /// The signer, when signatures are required (and so verified).
    public var signer: CommitSigner?

    public init(ancestry: Ancestry, signer: CommitSigner? = nil) {
        self.ancestry = ancestry
        self.signer = signer
    }
}
