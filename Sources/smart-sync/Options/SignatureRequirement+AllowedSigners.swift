import FoundationEssentials
import SmartSyncCore
import SmartSyncPipeline
import SmartSyncSignatures

extension SignatureRequirement {
    /// Commits must verify for a principal of the allowed-signers file at `path`, as `git verify-commit` with
    /// `gpg.format=ssh` checks them: ``CommitSignature/verify(commit:body:allowedSigners:)`` (namespace `git`,
    /// `valid-after`/`valid-before` at the committer time), in process, with no `ssh-keygen`.
    ///
    /// The file is read and parsed here, once per run: a malformed line is a usage error naming `path:line` before
    /// anything is fetched.
    static func allowedSigners(file path: String) throws -> SignatureRequirement {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw SmartSyncError(
                .invalidArgument, "cannot read the allowed-signers file '\(path)' (--allowed-signers)",
                hint: "give a file in ssh-keygen's ALLOWED SIGNERS format")
        }
        let signers = try AllowedSigners(contentsOf: path)
        return SignatureRequirement(source: path) { commit, body in
            let verified = try CommitSignature.verify(commit: commit, body: body, allowedSigners: signers)
            return CommitSigner(principal: verified.principal, fingerprint: verified.fingerprint)
        }
    }
}
