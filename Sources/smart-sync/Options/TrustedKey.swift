import SmartSyncCore
import SmartSyncFetch

/// `--trusted-key FILE` (a target's `trusted_key`): how a run trusts its mirrors' signed `refs`.
enum TrustedKey {
    /// The trust for `repository`'s mirrors: `refs.sig` verified against the allowed signers in `file`, in namespace
    /// `smart-sync`; the newest accepted pointer kept in `stateDirectory`.
    static func trust(file: String, repository: String, stateDirectory: String) throws -> MirrorTrust {
        throw SmartSyncError(
            .invalidArgument, "--trusted-key \(file): this build has no SSH signature verification yet",
            hint: "leave --trusted-key out: the origin resolves refs")
    }
}
