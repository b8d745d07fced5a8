import FoundationEssentials
import Logging
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer
import Synchronization

/// A static mirror (docs/MIRROR.md's layout, written by `smart-sync publish`) as a source: commits from `commits/`,
/// the root tree's listing from `listings/`, blobs from `objects/`, and for a cold store the commit's pack from
/// `packs/`. Nothing it serves is trusted: every file is verified against the id it is named for, here, before it
/// is used, so a missing or damaged file is a ``SourceFailure`` that moves the run on to the next mirror or the
/// origin (``FailoverPolicy/mirror``) rather than the run's failure.
///
/// The mirror never resolves a ref by itself: the origin does, or, with a ``MirrorTrust`` (`--trusted-key`), the
/// mirror's signed `refs` pointer. It never receives a credential: its requests carry no `Authorization`, whatever
/// host it shares with the origin.
public final class MirrorSource: SyncSource {
    /// The mirror's base URL `M`, without a trailing slash.
    public let baseURL: String
    let engine: TransferEngine
    let retryPolicy: RetryPolicy
    /// What the run may still add to the store (`--max-download`), shared with the other sources; nil: no limit.
    let storeBudget: ByteBudget?
    /// How a signed `refs` pointer is checked; nil: this mirror does not resolve refs.
    let trust: MirrorTrust?
    let notice: @Sendable (String) -> Void
    let logger: Logger
    let state = Mutex(State())

    struct State {
        var stats = SourceStatistics()
        /// What each commit listed through this mirror holds (for the pack rule and the pack's bounds).
        var listed: [ObjectID: Listed] = [:]
        /// Blob sizes by this mirror's listings: only a hint for its own downloads (no hash covers them).
        var sizeHints: [ObjectID: Int] = [:]
        /// A pack was imported (the transport the summary names).
        var usedPack = false
    }

    /// - Parameters:
    ///   - baseURL: the mirror's URL (`--mirror`); a trailing slash is dropped.
    ///   - engine: the run's transfer engine; its credential hosts do not matter: no request here carries a credential.
    ///   - trust: how the mirror's signed `refs` are checked (`--trusted-key`); nil: resolving is the origin's job.
    ///   - storeBudget: what the run may add to the store, shared with the other sources (`--max-download`).
    ///   - notice: told of retries.
    ///   - logger: told at `.debug` what this mirror served and why it could not.
    public init(
        baseURL: String, engine: TransferEngine, retryPolicy: RetryPolicy = RetryPolicy(), trust: MirrorTrust? = nil,
        storeBudget: ByteBudget? = nil, notice: @escaping @Sendable (String) -> Void = { _ in },
        logger: Logger = .disabled
    ) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.engine = engine
        self.retryPolicy = retryPolicy
        self.trust = trust
        self.storeBudget = storeBudget
        self.notice = notice
        self.logger = logger
    }

    /// A commit listed through this mirror: its distinct blobs, their bytes by the listing (a hint), and the objects
    /// its pack holds.
    struct Listed {
        var blobs: Int
        var bytes: Int
        var objects: Int?
    }

    public var displayName: String { "mirror:" + baseURL }

    public var transport: String { state.withLock { $0.usedPack } ? "mirror+pack" : "mirror" }

    public var statistics: SourceStatistics { state.withLock { $0.stats } }

    public func close() {}

    /// `ab/cdef…`: a file name of the layout for `id`.
    static func split(_ id: ObjectID) -> String {
        let hex = id.hex
        return String(hex.prefix(2)) + "/" + String(hex.dropFirst(2))
    }

    /// The URL of `path` (relative to the base URL).
    func url(_ path: String) -> String { baseURL + "/" + path }

    // MARK: - Requests

    /// Counts a retry and announces it.
    func announceRetry(_ delay: Double, _ reason: String) {
        state.withLock { $0.stats.retries += 1 }
        notice("retrying in \(delay.fixed(1)) s: " + reason)
    }

    /// GETs a small file of the mirror (a commit, a listing, `refs`) into memory, with retries. A 404 is `.notFound`
    /// naming the file; any other status but 2xx is `.http` with the status; a body over `limit` bytes is refused.
    /// Counted as the mirror's traffic only (`byHost`), not as API requests: those are the origin's (its rate limit).
    func getFile(_ path: String, what: String, limit: Int) async throws -> [UInt8] {
        let url = url(path)
        let response = try await engine.perform(retrying: retryPolicy, onRetry: announceRetry) { _ in
            state.withLock { $0.stats.count(.mirror, requests: 1) }
            return TransferRequest(url: url, sink: .memory(limit: limit), hostKind: HostKind.mirror.rawValue)
        }
        state.withLock {
            $0.stats.bytesReceived += response.bytesReceived
            $0.stats.count(.mirror, bytes: response.bytesReceived)
            $0.stats.connections += response.newConnections
        }
        guard (200..<300).contains(response.status) else { throw fileError(response.status, what: what, url: url) }
        return response.body
    }

    /// The error for a non-2xx answer to a request for `what` at `url`.
    func fileError(_ status: Int, what: String, url: String) -> SmartSyncError {
        if status == 404 || status == 410 {
            return SmartSyncError(
                .notFound, "the mirror \(baseURL) has no \(what) (HTTP \(status) from \(url))",
                hint: "publish it there, or leave the mirror out")
        }
        return SmartSyncError(
            .http, "the mirror \(baseURL) answered HTTP \(status) for \(what) (\(url))",
            hint: "check the mirror's server", httpStatus: status)
    }

    /// The reason when `error` says the mirror is down, failing or throttling (what it has not served yet goes to the
    /// next source at once, not one request at a time); nil for anything else.
    static func downReason(_ error: SmartSyncError) -> SourceFailure.Reason? {
        let reason = SourceFailure(classifying: error).reason
        return [.unreachable, .serverError, .rateLimited].contains(reason) ? reason : nil
    }

    /// A failure of this mirror for the failover to decide on: the error, with the mirror named.
    func failure(_ reason: SourceFailure.Reason, _ message: String, hint: String? = nil, cause: SmartSyncError? = nil)
        -> SourceFailure
    {
        SourceFailure(reason, SmartSyncError(cause?.code ?? .integrity, message, hint: hint, cause: cause))
    }
}
