import SmartSyncGitObjects
import SmartSyncObjectStore
import Logging
import SmartSyncCore
import Synchronization

/// Sources tried in order: each call goes to the current source, and when it fails in a way its ``FailoverPolicy``
/// says another source might not (an outage, a protocol the host does not speak), the run moves on to the next one
/// for that call and for the rest of the run.
///
/// Two failovers make up a GitHub run: the REST API, then a ``ShallowCloneSource``
/// (``FailoverPolicy/apiOutage(clone:)``), and for `--transport auto` the ``GitPackSource``, then that per-blob
/// failover (``FailoverPolicy/packTransport``). A source says why it failed with a ``SourceFailure``, or a
/// ``SmartSyncError`` whose code says it (``SourceFailure/init(classifying:)``); failures that surface are thrown as
/// the ``SmartSyncError`` they carry. Errors of any other type (cancellation) surface as they are.
///
/// The first switch is announced once through `notice` and kept in ``fallbackReason``. What a source stored before it
/// failed stays in the store, and the next source skips it.
public final class FailoverSource: SyncSource {
    /// The sources, in the order they are tried.
    public let sources: [any SyncSource]
    /// Which failures move on, and how the switch is worded.
    public let policy: FailoverPolicy
    public let displayName: String
    private let notice: @Sendable (String) -> Void
    private let logger: Logger
    private let state: Mutex<Switch>

    private struct Switch {
        /// The source calls go to.
        var active = 0
        /// Why the run left its first source (the first switch's reason), or why it never used it.
        var reason: String?
        /// The failure that caused the first switch (for ``FailoverPolicy/bothFailed``); nil when forced.
        var cause: SmartSyncError?
        var forced = false
        var announced = false
    }

    /// - Parameters:
    ///   - sources: the sources in the order they are tried; not empty.
    ///   - policy: which failures move on, and how the switch is worded.
    ///   - displayName: the name the run shows; default: the first source's.
    ///   - forcedReason: why sources that would come first were left out by configuration (`--force-full was
    ///     given`): announced on the first call and kept as ``fallbackReason``, as a switch's reason is.
    ///   - notice: told once, at the first switch (or the first call when forced), which path runs and why.
    ///   - logger: told at `.debug` of every switch, with its reason.
    public init(
        _ sources: [any SyncSource], policy: FailoverPolicy, displayName: String? = nil, forcedReason: String? = nil,
        notice: @escaping @Sendable (String) -> Void = { _ in }, logger: Logger = .disabled
    ) {
        self.logger = logger
        precondition(!sources.isEmpty, "a failover needs at least one source")
        self.sources = sources
        self.policy = policy
        self.displayName = displayName ?? sources[0].displayName
        self.notice = notice
        state = Mutex(Switch(reason: forcedReason, forced: forcedReason != nil))
    }

    /// The source calls go to now.
    public var active: any SyncSource { sources[state.withLock { $0.active }] }

    /// Why the run left its first source, or nil while it serves the run; else the first reason a source reports
    /// for a switch of its own (the per-blob path's clone, while packs still serve).
    public var fallbackReason: String? {
        state.withLock { $0.reason } ?? sources.lazy.compactMap(\.fallbackReason).first
    }

    public var transport: String { active.transport }

    /// The active source's counters, plus the own counters of the sources it left (the requests that failed), and,
    /// when the policy moves on for one call only, of the sources after it that served such calls.
    public var statistics: SourceStatistics {
        let active = state.withLock { $0.active }
        let later = policy.movesOnForThisCall.isEmpty ? [] : sources[(active + 1)...].map(\.ownStatistics)
        return later.reduce(
            sources[..<active].reduce(SourceStatistics()) { $0 + $1.ownStatistics } + sources[active].statistics, +)
    }

    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        try await run(.resolve) { try await $0.resolve(ref) }
    }

    /// Each source asked ahead in turn (``SyncSource/resolveAhead(_:)``): a switch to the shallow clone in the middle
    /// of the call answers nil, and the run resolves through the clone when it needs the answer. A forced reason
    /// (`--force-full`) is not announced here, by a request the run may never use (it may fail first, or need no
    /// answer), but by the first call the run makes of its own.
    public func resolveAhead(_ ref: String?) async throws -> ResolvedRef? {
        try await run(.resolve, ahead: true) { try await $0.resolveAhead(ref) }
    }

    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        try await listing(for: ref, hints: ListingHints())
    }

    public func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing {
        try await run(.listing) { try await $0.listing(for: ref, hints: hints) }
    }

    /// Said to every source, not the active one alone: the question may reach a later one (the run may switch
    /// before the listing), and a source never asked holds nothing for it (the pack source acts on it only when asked
    /// the question, ``GitPackSource/listingAhead(_:hints:)``).
    public func listingAhead(_ ref: ResolvedRef, hints: ListingHints) {
        for source in sources { source.listingAhead(ref, hints: hints) }
    }

    public func withdrawListingAhead() {
        for source in sources { source.withdrawListingAhead() }
    }

    /// The active source's answer alone (the listing goes to it): a source further on that holds a listing (its
    /// question answered after a switch) is not asked, and should the chain switch after the question, the pack
    /// the previously active source holds stays in the store's `tmp/` until ``close()`` (or a withdrawal).
    public func holdsListing(for ref: ResolvedRef, hints: ListingHints) -> Bool {
        active.holdsListing(for: ref, hints: hints)
    }

    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        // Blobs a source stored before it failed stay in the store; the next source skips them, and its report is
        // added to what the failed source said it stored.
        let earlier = Mutex(FetchReport())
        var report = try await run(.fetch) { source in
            do {
                return try await source.fetch(blobs, of: ref, into: store, progress: progress)
            } catch let failure as SourceFailure {
                if let partial = failure.report { earlier.withLock { $0.add(partial) } }
                throw failure
            }
        }
        report.add(earlier.withLock { $0 })
        return report
    }

    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        try await run(.check) { try await $0.commitObject(id) }
    }

    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        try await run(.check) { try await $0.isAncestor(ancestor, of: descendant) }
    }

    /// Closes every source.
    public func close() {
        for source in sources { source.close() }
    }

    // MARK: - Switching

    /// Runs `body` on the active source, and on the next ones while the policy says their failure moves on. `ahead`:
    /// a call asked ahead of the run (``resolveAhead(_:)``), which leaves a forced reason unannounced.
    private func run<T: Sendable>(
        _ call: FailoverPolicy.Call, ahead: Bool = false, _ body: (any SyncSource) async throws -> T
    ) async throws -> T {
        var index = state.withLock { $0.active }
        while true {
            announce(ahead: ahead)
            let failure: SourceFailure
            do {
                return try await body(sources[index])
            } catch {
                guard let classified = SourceFailure.classify(error) else { throw error }
                failure = classified
            }
            guard index + 1 < sources.count, let why = policy.reason(for: failure, in: call) else {
                throw surfaced(failure, from: index)
            }
            let failed = index
            let forThisCall = policy.movesOnForThisCall.contains(failure.reason)
            let scope = forThisCall ? " for this call" : ""
            logger.debug(
                "left \(sources[failed].displayName) for \(sources[failed + 1].displayName)\(scope): \(why)",
                metadata: ["call": "\(call)", "reason": "\(failure.reason)"])
            index = state.withLock { s in
                if s.reason == nil {
                    s.reason = why
                    s.cause = failure.error
                }
                if forThisCall { return max(s.active, failed + 1) }
                // Never back: a concurrent call may have moved further on already.
                s.active = max(s.active, failed + 1)
                return s.active
            }
        }
    }

    /// The error a failure of `sources[index]` surfaces as: its own, or (after a switch) what the policy makes of
    /// the switch's cause and it.
    private func surfaced(_ failure: SourceFailure, from index: Int) -> SmartSyncError {
        guard index > 0, let bothFailed = policy.bothFailed, let cause = state.withLock({ $0.cause }) else {
            return failure.error
        }
        return bothFailed(cause, failure.error)
    }

    private func announce(ahead: Bool) {
        let due = state.withLock { s -> (reason: String, forced: Bool)? in
            guard !s.announced, let reason = s.reason, !(ahead && s.forced) else { return nil }
            s.announced = true
            return (reason, s.forced)
        }
        if let due { notice(policy.announcement(due.reason, due.forced)) }
    }
}
