import SmartSyncCore
import SmartSyncPipeline

extension SignatureRequirement {
    /// Commits must verify for a principal of the allowed-signers file at `path` (read once, before the run).
    static func allowedSigners(file path: String) throws -> SignatureRequirement {
        throw SmartSyncError(
            .invalidArgument, "--require-signed-commits is not available in this build (allowed signers: \(path))")
    }
}
