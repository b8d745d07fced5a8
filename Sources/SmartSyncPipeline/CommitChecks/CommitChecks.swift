import Logging
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects

/// The checks on the commit a run moves a target to, run by ``SyncRunner`` right after resolve and before anything is
/// fetched into the target or touches it, so `sync`, `plan` and `update` (and every transport: raw, pack, the clone
/// fallback, a local repository) get the same rule.
///
/// 1. **Anti-rollback.** The target's state records commit C (none: nothing to check). The new commit N must be C or
///    a descendant of C (``PinIndex/isAncestor(_:of:)``, else ``SyncSource/isAncestor(_:of:)``); one that is not, or
///    whose ancestry neither can tell, is refused (`.refused`, exit 6) unless ``CommitPolicy/allowDowngrade``.
///    `rollback` does not come here.
/// 2. **Signatures.** With ``CommitPolicy/signatures``, N's own object (its pin's, else
///    ``SyncSource/commitObject(_:)``; checked against its id here again) must verify; a commit that does not, or
///    whose object neither can give, is refused.
///
/// The store's pins answer first (``PinIndex``): what `warm --pin` learned from the source about a pinned commit's
/// ancestry, and its verified object, so a move between pinned commits is checked with the network down. What the
/// pins cannot tell is asked of the source. Nothing else is kept between runs: the source's own caches are keyed by
/// both commit ids (a new commit is always asked about), and the signature is verified again on every run.
public struct CommitChecks: Sendable {
    public var source: any SyncSource
    public var policy: CommitPolicy
    /// The store's pins, asked before the source.
    public var pins: PinIndex
    public var logger: Logger

    public init(source: any SyncSource, policy: CommitPolicy, pins: PinIndex = PinIndex(), logger: Logger = .disabled) {
        self.source = source
        self.policy = policy
        self.pins = pins
        self.logger = logger
    }

    /// Checks `commit` for `target`, whose state records `current` (nil: no state).
    public func check(_ commit: ObjectID, current: ObjectID?, target: String) async throws -> CommitCheckReport {
        let ancestry = try await checkAncestry(commit, current: current, target: target)
        var report = CommitCheckReport(ancestry: ancestry)
        if let requirement = policy.signatures {
            report.signer = try await checkSignature(commit, requirement, target: target)
        }
        return report
    }

    private func checkAncestry(_ commit: ObjectID, current: ObjectID?, target: String) async throws
        -> CommitCheckReport.Ancestry
    {
        guard let current else {
            logger.debug("commit checks: \(target) has no state, no ancestry to check")
            return .first
        }
        if current == commit { return .same }
        if policy.allowDowngrade {
            // Leave was given: the question is not asked (it may need the network a sync from the store does not).
            logger.debug("commit checks: --allow-downgrade, ancestry of \(commit.abbreviated()) not asked")
            return .allowed
        }
        let answer: Bool?
        let answeredBy: String
        do {
            if let known = pins.isAncestor(current, of: commit) {
                answer = known
                answeredBy = "the pins (learned by warm --pin)"
            } else {
                answer = try await source.isAncestor(current, of: commit)
                answeredBy = source.displayName
            }
        } catch let error as SmartSyncError {
            throw SmartSyncError(
                .refused,
                "refusing to move \(target) from commit \(current) to \(commit): whether it descends from the target's "
                    + "commit could not be checked (\(error.message)); the target was not changed",
                hint: "retry later, or pass --allow-downgrade to move it without the check", cause: error)
        }
        let said = answer.map { $0 ? "a descendant" : "not a descendant" } ?? "the source cannot tell"
        logger.debug(
            "commit checks: \(current.abbreviated()) → \(commit.abbreviated()): \(said)",
            metadata: ["source": "\(answeredBy)"])
        if answer == true { return .descendant }
        if answer == false {
            throw SmartSyncError(
                .refused,
                "refusing to move \(target) from commit \(current) to \(commit), which is not a descendant of it (a "
                    + "downgrade, or history rewritten); the target was not changed",
                hint: "pass --allow-downgrade to move it anyway, or use `smart-sync rollback` to go back to a kept tree"
            )
        }
        throw SmartSyncError(
            .refused,
            "refusing to move \(target) from commit \(current) to \(commit): \(source.displayName) cannot tell whether "
                + "it descends from the target's commit; the target was not changed",
            hint: "pass --allow-downgrade to move it without the check")
    }

    private func checkSignature(_ commit: ObjectID, _ requirement: SignatureRequirement, target: String) async throws
        -> CommitSigner
    {
        let body: [UInt8]
        do {
            if let pinned = pins.commitObject(commit) {
                logger.debug("commit checks: the object of \(commit.abbreviated()) from its pin")
                body = try CommitObject.verified(pinned, id: commit, from: "the pin of \(commit.abbreviated())")
            } else {
                body = try CommitObject.verified(
                    try await source.commitObject(commit), id: commit, from: source.displayName)
            }
        } catch let error as SmartSyncError {
            throw SmartSyncError(
                .refused,
                "refusing commit \(commit) for \(target): --require-signed-commits needs its object to check the "
                    + "signature, and \(error.message); the target was not changed",
                hint: error.hint, cause: error)
        }
        do {
            let signer = try requirement.verify(commit, body)
            logger.debug(
                "commit checks: \(commit.abbreviated()) signed by \(signer.principal) (\(signer.fingerprint))",
                metadata: ["principal": "\(signer.principal)", "fingerprint": "\(signer.fingerprint)"])
            return signer
        } catch let error as SmartSyncError {
            throw SmartSyncError(
                .refused,
                "refusing commit \(commit) for \(target): its signature does not verify against \(requirement.source) "
                    + "(\(error.message)); the target was not changed",
                hint: error.hint ?? "sign it with a key listed in \(requirement.source)", cause: error)
        }
    }
}
