import SmartSyncCore

/// What a ``FailoverSource`` does when a source fails: which ``SourceFailure/Reason``s move the run on to the next
/// source (all others surface), and how the switch is worded.
///
/// A switch is kept for the rest of the run: the failover never goes back to a source it left (its reason, its
/// `transport` and its statistics describe one path per call after the switch).
public struct FailoverPolicy: Sendable {
    /// The call that failed, for the reason's wording.
    public enum Call: Sendable, Hashable {
        case resolve
        case listing
        case fetch
        /// A commit check: the commit's object, or whether one commit descends from another.
        case check
    }

    /// The failures that move the run on to the next source. The rest (and any failure of the last source) surface.
    public var movesOn: Set<SourceFailure.Reason>
    /// Why the run left a source after this failure in this call: printed once, and kept as the summary's
    /// `fallbackReason`.
    public var describe: @Sendable (SourceFailure, Call) -> String
    /// The notice for the switch, from its reason. `forced`: no source failed; configuration left the earlier ones
    /// out (`--force-full`).
    public var announcement: @Sendable (_ reason: String, _ forced: Bool) -> String
    /// The error thrown when a later source fails too, from the failure that caused the switch and the later
    /// source's; nil: the later source's error, unchanged.
    public var bothFailed: (@Sendable (_ cause: SmartSyncError, _ last: SmartSyncError) -> SmartSyncError)?
    /// Failures after which the run moves on for this call only: the next call starts at the failed source again (a
    /// mirror that lacks one object still serves the next ref). Any other failure that moves on leaves the source for
    /// the rest of the run. Default: none.
    public var movesOnForThisCall: Set<SourceFailure.Reason> = []

    /// - Parameters:
    ///   - movesOn: the failures that move the run on to the next source.
    ///   - describe: the reason for a switch, from the failure and the call.
    ///   - announcement: the notice for the switch, from its reason.
    ///   - bothFailed: the error when a later source fails too; nil: the later source's own.
    public init(
        movesOn: Set<SourceFailure.Reason>, describe: @escaping @Sendable (SourceFailure, Call) -> String,
        announcement: @escaping @Sendable (_ reason: String, _ forced: Bool) -> String,
        bothFailed: (@Sendable (_ cause: SmartSyncError, _ last: SmartSyncError) -> SmartSyncError)? = nil,
        movesOnForThisCall: Set<SourceFailure.Reason> = []
    ) {
        self.movesOnForThisCall = movesOnForThisCall
        self.movesOn = movesOn
        self.describe = describe
        self.announcement = announcement
        self.bothFailed = bothFailed
    }

    /// Why `failure` in `call` moves the run on to the next source, or nil when it must surface.
    public func reason(for failure: SourceFailure, in call: Call) -> String? {
        movesOn.contains(failure.reason) ? describe(failure, call) : nil
    }
}

extension FailoverPolicy {
    /// The REST API, then a shallow clone of `cloneURL` (`--transport raw`, and the per-blob path of `auto`).
    ///
    /// Only outages move on: the API unreachable, a 5xx after the retries, a rate limit that does not reset within
    /// `--max-wait`. A missing repository or ref, a rejected token, content that failed verification or an unsafe
    /// tree are answers, not outages: they surface. When the clone fails too, one error says both, with the clone's
    /// code when it is an answer (no such repository or ref, credentials refused), else the API's (its advice, such
    /// as the rate limit's reset time, is what the operator can act on).
    public static func apiOutage(clone cloneURL: String) -> FailoverPolicy {
        FailoverPolicy(
            movesOn: [.unreachable, .serverError, .rateLimited],
            describe: { failure, call in
                let what = call == .fetch ? "the blob downloads" : "the API"
                // The message without the error's hint: its advice ("try again later", "wait for the reset") is moot
                // once the clone runs.
                let said = failure.error.message
                switch failure.reason {
                case .rateLimited:
                    return "the API rate limit is exhausted and does not reset within --max-wait (\(said))"
                case .serverError: return "\(what) answered HTTP \(failure.error.httpStatus ?? 500) (\(said))"
                default: return "\(what) could not be reached or broke off (\(said))"
                }
            },
            announcement: { reason, forced in
                "\(forced ? "using" : "falling back to") a shallow clone of \(cloneURL): \(reason)"
            },
            bothFailed: { cause, cloneError in
                let answered: Set<SmartSyncError.Code> = [.notFound, .unauthorized, .invalidArgument]
                return SmartSyncError(
                    answered.contains(cloneError.code) ? cloneError.code : cause.code,
                    "\(cause.text). The fallback, a shallow clone of \(cloneURL), failed too: \(cloneError.message)",
                    hint: cloneError.hint, cause: cloneError)
            })
    }

    /// The pack transport, then the per-blob path (`--transport auto`): a git host that does not speak protocol v2,
    /// is unreachable, or sent a pack that failed verification moves the run on.
    ///
    /// Local problems, answers the REST API would give as well (credentials refused, a bad argument, an unsafe tree),
    /// the run's own limits (`--max-download`, `--request-timeout`), and failures of the per-blob path inside the
    /// pack source (``SourceFailure/Reason/delegated``) surface: the per-blob path would only meet them again. The
    /// per-blob path's own failure surfaces unchanged.
    public static let packTransport = FailoverPolicy(
        movesOn: [.unreachable, .serverError, .rateLimited, .notFound, .unusable],
        describe: { failure, _ in "the pack transport failed (\(failure.error.message))" },
        announcement: { reason, _ in "using per-blob downloads: \(reason)" })
}
