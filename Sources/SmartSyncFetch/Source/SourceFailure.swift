import SmartSyncCore
import SmartSyncTransfer

/// Why a source could not serve a call, in the terms a ``FailoverSource`` decides on: might another source serve
/// it instead, or would it give the same answer?
///
/// Sources throw ``SmartSyncError``, and its ``SmartSyncError/code`` (with ``SmartSyncError/httpStatus``) already
/// says most of this: ``init(classifying:)`` reads it. A source throws a `SourceFailure` itself only to say what the
/// code cannot: that the call failed in a source it hands work to (``Reason/delegated``: the pack source's per-blob
/// path for large blobs and short SHAs). A failover never lets a `SourceFailure` out; what surfaces is its ``error``.
public struct SourceFailure: Error, Sendable, CustomStringConvertible {
    /// What kind of failure, one case per reason a failover policy tells apart.
    public enum Reason: Hashable, Sendable, CaseIterable {
        /// The source could not be reached or the connection broke off (`.network`), after its own retries.
        case unreachable
        /// The server failed: HTTP 5xx (`.http` with a 5xx ``SmartSyncError/httpStatus``), after the retries.
        case serverError
        /// A rate limit that does not reset within `--max-wait` (`.rateLimited`).
        case rateLimited
        /// The source has no such repository, ref, commit, tree or object (`.notFound`). An answer from the API,
        /// but from a pack it can also mean an object the pack left out.
        case notFound
        /// An answer every path would give: credentials refused (`.unauthorized`), an argument the source does not
        /// accept (`.invalidArgument`), a tree with an unsafe path (`.unsafePath`).
        case answered
        /// The source answered, but not usably: a protocol it does not speak, an unexpected status, a response that
        /// failed to parse or to verify, TLS that failed (`.http` but a 5xx, `.tls`, `.malformedResponse`,
        /// `.integrity`, `.sourceUnavailable`, and any other code not named here).
        case unusable
        /// A problem on this machine, not at the source: the file system, a lock, local files in the way, libcurl
        /// that cannot be loaded or a transfer engine that cannot set up (``CurlLibrary/Unusable``), or the run
        /// being cancelled (`.io`, `.locked`, `.conflict`, `.cancelled`, and `.integrity` of the local store:
        /// ``SmartSyncError/isStoreDamage``).
        case local
        /// A limit the operator set for the run (`.limitExceeded`: `--max-download`, `--request-timeout`): the next
        /// source would meet it too.
        case limitExceeded
        /// The call failed in a source this one hands work to: the next source would be that same path again.
        /// Only thrown explicitly (``GitPackSource`` for its per-blob path); never read from a code.
        case delegated
    }

    /// Why the call failed.
    public var reason: Reason
    /// The failure itself, as the operator sees it when it surfaces.
    public var error: SmartSyncError
    /// What a failed `fetch` stored before it failed (a mirror stores every blob it has, then fails for the rest):
    /// a ``FailoverSource`` adds it to the next source's report. nil: nothing, or not a fetch.
    public var report: FetchReport?

    /// A failure with its reason given by the source that threw it.
    public init(_ reason: Reason, _ error: SmartSyncError, report: FetchReport? = nil) {
        self.reason = reason
        self.error = error
        self.report = report
    }

    /// The reason an error's code (and HTTP status) gives.
    public init(classifying error: SmartSyncError) {
        self.init(Self.reason(of: error), error)
    }

    /// A source's error as a failure: a ``SourceFailure`` as thrown (a source may classify its own: the pack source's
    /// per-blob path, `.delegated`), a ``SmartSyncError`` classified by its code (``init(classifying:)``); nil for
    /// any other error (cancellation), which no failover policy reads.
    public static func classify(_ error: any Error) -> SourceFailure? {
        error as? SourceFailure ?? (error as? SmartSyncError).map { SourceFailure(classifying: $0) }
    }

    public var description: String { "\(reason): \(error)" }

    private static func reason(of error: SmartSyncError) -> Reason {
        // libcurl that cannot be loaded, or another failure of the engine thread's setup (it surfaces as a request's
        // error): a problem of this machine that no other source or transport through smart-sync's libcurl mends
        // (`git-remote-https` links its own, but see ``CurlLibrary/Unusable``).
        if error.cause is CurlLibrary.Unusable { return .local }
        if error.isStoreDamage { return .local }  // `.integrity`, but of the local store, not the source's answer
        switch error.code {
        case .network: return .unreachable
        case .rateLimited: return .rateLimited
        case .http:
            // The status is a field: text that merely mentions a 5xx is no outage.
            guard let status = error.httpStatus, (500...599).contains(status) else { return .unusable }
            return .serverError
        case .notFound: return .notFound
        case .unauthorized, .invalidArgument, .unsafePath: return .answered
        case .io, .locked, .conflict, .cancelled: return .local
        case .limitExceeded: return .limitExceeded
        default: return .unusable
        }
    }
}
