import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import Synchronization

/// The GitHub source with a way out: when the REST API cannot answer (unreachable, a server error, or a rate
/// limit that will not reset within `--max-wait`), the rest of the run goes through a ``ShallowCloneSource``.
///
/// Only failures that say nothing about the request itself switch: `.network`, `.rateLimited`, and `.http` with a
/// 5xx status (after the primary's own retries). A missing repository or ref, a rejected token, content that
/// failed verification or an unsafe tree are answers, not outages: they are reported, never papered over.
/// Without a primary (`--force-full`) the clone is used from the start and no API request is made.
///
/// The switch is announced once through `notice` (the CLI prints it as a warning) and kept in ``fallbackReason``.
public final class FallbackSource: SyncSource {
    /// The API source; nil when the clone was asked for outright.
    public let primary: (any SyncSource)?
    /// The shallow clone (makes nothing on disk until first used).
    public let fallback: ShallowCloneSource
    private let notice: @Sendable (String) -> Void
    private let state: Mutex<Switch>

    private struct Switch {
        var reason: String?
        var announced = false
        /// The API's failure that made the clone take over (reported with the clone's, should it fail too).
        var cause: SmartSyncError?
    }

    /// - Parameters:
    ///   - primary: the API source, or nil to use the clone from the start.
    ///   - fallback: the clone.
    ///   - forcedReason: why the clone is used from the start (when `primary` is nil), e.g. "--force-full was given".
    ///   - notice: told once, when the clone takes over, which path runs and why.
    public init(
        primary: (any SyncSource)?, fallback: ShallowCloneSource, forcedReason: String = "--force-full was given",
        notice: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.primary = primary
        self.fallback = fallback
        self.notice = notice
        state = Mutex(Switch(reason: primary == nil ? forcedReason : nil))
    }

    /// Why the clone is used, or nil while the API serves the run.
    public var fallbackReason: String? { state.withLock { $0.reason } ?? primary?.fallbackReason }

    public var displayName: String { primary?.displayName ?? fallback.displayName }

    public var transport: String { active == nil ? fallback.transport : active!.transport }

    /// The API's counters (including the requests that failed) plus the clone's.
    public var statistics: SourceStatistics {
        guard let primary else { return fallback.statistics }
        guard fallbackReason != nil else { return primary.statistics }
        return primary.statistics + fallback.statistics
    }

    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        try await attempt("the API", { try await $0.resolve(ref) }, else: { try await $0.resolve(ref) })
    }

    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        try await listing(for: ref, hints: ListingHints())
    }

    public func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing {
        try await attempt(
            "the API", { try await $0.listing(for: ref, hints: hints) }, else: { try await $0.listing(for: ref) })
    }

    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        // Blobs the primary stored before it failed stay in the store; the clone skips them.
        try await attempt(
            "the blob downloads", { try await $0.fetch(blobs, of: ref, into: store, progress: progress) },
            else: { try await $0.fetch(blobs, of: ref, into: store, progress: progress) })
    }

    public func close() {
        primary?.close()
        fallback.close()
    }

    // MARK: - Switching

    /// The primary while it serves the run; nil once the clone has taken over.
    private var active: (any SyncSource)? { fallbackReason == nil ? primary : nil }

    private func attempt<T: Sendable>(
        _ what: String, _ viaPrimary: (any SyncSource) async throws -> T,
        else viaClone: (ShallowCloneSource) async throws -> T
    ) async throws -> T {
        if let primary = active {
            do {
                return try await viaPrimary(primary)
            } catch let error as SmartSyncError {
                guard let reason = Self.fallbackReason(for: error, from: what) else { throw error }
                state.withLock {
                    if $0.reason == nil {
                        $0.reason = reason
                        $0.cause = error
                    }
                }
            }
        }
        announce()
        do {
            return try await viaClone(fallback)
        } catch let cloneError as SmartSyncError {
            // Both paths failed: say why the API could not be used, then why the clone could not either. The code is
            // the clone's when it is an answer (no such repository or ref, credentials refused), else the API's (its
            // advice, such as the rate limit's reset time, is what the operator can act on).
            guard let cause = state.withLock({ $0.cause }) else { throw cloneError }
            let answered: Set<SmartSyncError.Code> = [.notFound, .unauthorized, .invalidArgument]
            throw SmartSyncError(
                answered.contains(cloneError.code) ? cloneError.code : cause.code,
                "\(cause.text). The fallback, a shallow clone of \(fallback.remoteURL), failed too: \(cloneError.message)",
                hint: cloneError.hint, cause: cloneError)
        }
    }

    private func announce() {
        let reason = state.withLock { s -> String? in
            guard !s.announced else { return nil }
            s.announced = true
            return s.reason
        }
        guard let reason else { return }
        let verb = primary == nil ? "using" : "falling back to"
        notice("\(verb) a shallow clone of \(fallback.remoteURL): \(reason)")
    }

    /// Why `error` (from `what`, e.g. "the API") justifies the clone, or nil when it must be reported instead.
    public static func fallbackReason(for error: SmartSyncError, from what: String = "the API") -> String? {
        // The message without the error's hint: its advice ("try again later", "wait for the reset") is moot once
        // the clone runs.
        let said = error.message
        switch error.code {
        case .rateLimited:
            return "the API rate limit is exhausted and does not reset within --max-wait (\(said))"
        case .network:
            return "\(what) could not be reached or broke off (\(said))"
        case .http:
            guard let status = error.httpStatus, (500...599).contains(status) else { return nil }
            return "\(what) answered HTTP \(status) (\(said))"
        default:
            return nil
        }
    }
}
