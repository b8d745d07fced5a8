import ArgumentParser
import SmartSyncCore
import SmartSyncPipeline
import SmartSyncWorkflow

/// `--allow-downgrade`, `--require-signed-commits`, `--allowed-signers`: what the commit a run moves a target to must
/// be (``CommitChecks``), for `sync`, `plan` and `update`.
///
/// Precedence, highest first: a flag; the target's table (`allow_downgrade`, `require_signed_commits`,
/// `allowed_signers`); the `[sync]` table; off.
struct CommitPolicyOptions: ParsableArguments {
    @Flag(
        name: .long,
        help:
            """
            Move the target even to a commit that is not a descendant of its current one (or whose ancestry the \
            source cannot tell). Without it such a run is refused with exit 6; `rollback` needs no such leave.
            """
    )
    var allowDowngrade = false

    @Flag(
        name: .long,
        help:
            """
            Refuse (exit 6) a commit whose own SSH signature (git commit -S, gpg.format=ssh) does not verify for a \
            principal of --allowed-signers.
            """
    )
    var requireSignedCommits = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            The allowed-signers file (ssh-keygen's ALLOWED SIGNERS format, as git's gpg.ssh.allowedSignersFile) for \
            --require-signed-commits.
            """,
            valueName: "file"))
    var allowedSigners: String?

    /// The policy of one run: the flags over `configured`'s table over `settings`' `[sync]` table.
    func policy(_ configured: ConfiguredTarget?, _ settings: FileSettings) throws -> CommitPolicy {
        let allow = allowDowngrade || (configured?.allowDowngrade ?? settings.allowDowngrade ?? false)
        let require =
            requireSignedCommits || (configured?.requireSignedCommits ?? settings.requireSignedCommits ?? false)
        let signers = allowedSigners ?? configured?.allowedSigners ?? settings.allowedSigners
        guard require else { return CommitPolicy(allowDowngrade: allow) }
        guard let signers else {
            throw SmartSyncError(
                .invalidArgument, "--require-signed-commits needs the allowed signers: none was given",
                hint: "pass --allowed-signers FILE, or set allowed_signers in the target's table or [sync]")
        }
        return CommitPolicy(allowDowngrade: allow, signatures: try SignatureRequirement.allowedSigners(file: signers))
    }
}
