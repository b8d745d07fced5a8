/// Who made a signature that verified against an allowed-signers file.
public struct VerifiedSigner: Sendable, Equatable, CustomStringConvertible {
    /// The principal the signature was accepted for (as the allowed-signers line spells it when no principal was
    /// asked for: git's `find-principals` then `verify`).
    public var principal: String
    /// The signing key's fingerprint, `SHA256:…` as ssh-keygen prints it.
    public var fingerprint: String

    public init(principal: String, fingerprint: String) {
        self.principal = principal
        self.fingerprint = fingerprint
    }

    public var description: String { "\(principal) (\(fingerprint))" }
}
