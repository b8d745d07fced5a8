import Logging
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import Synchronization

/// Mirrors before the origin (`--mirror`): the origin resolves the ref (one conditional request, as without
/// mirrors), and listings and blobs go to the mirrors in order, then the origin, through a ``FailoverSource`` under
/// ``FailoverPolicy/mirror``; the commit checks (ancestry, a commit's object) ask the mirrors in order, then the
/// origin. The listing said ahead (``listingAhead(_:hints:)``) is kept here and handed to the origin only when every
/// mirror lacks the new commit itself, so a mirror that has it still serves its listing and blobs. With a
/// ``MirrorTrust`` (`--trusted-key`) there is no origin at all: the mirrors' signed `refs` resolve the ref, and the
/// chain and the checks hold only the mirrors.
public final class MirroredSource: SyncSource {
    /// The mirrors, then the origin when there is one.
    public let chain: FailoverSource
    /// The source refs are resolved by: the origin, or nil when the mirrors' signed refs do it.
    public let origin: (any SyncSource)?
    private let logger: Logger
    /// The listing said ahead (``listingAhead(_:hints:)``), until the origin is asked the ancestry question.
    private let ahead = Mutex<(ref: ResolvedRef, hints: ListingHints)?>(nil)

    /// - Parameters:
    ///   - mirrors: the mirrors, in the order they are tried.
    ///   - origin: the origin (resolves refs, and serves what no mirror could); nil with a trusted key.
    public init(
        mirrors: [MirrorSource], origin: (any SyncSource)?, notice: @escaping @Sendable (String) -> Void = { _ in },
        logger: Logger = .disabled
    ) {
        self.origin = origin
        self.logger = logger
        chain = FailoverSource(
            mirrors + (origin.map { [$0] } ?? []), policy: .mirror, displayName: origin?.displayName,
            notice: notice, logger: logger)
    }

    public var displayName: String { chain.displayName }

    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        guard let origin else { return try await chain.resolve(ref) }
        return try await origin.resolve(ref)
    }

    public func resolveAhead(_ ref: String?) async throws -> ResolvedRef? {
        guard let origin else { return try await chain.resolveAhead(ref) }
        return try await origin.resolveAhead(ref)
    }

    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        try await chain.listing(for: ref)
    }

    /// The chain's listing (the mirrors, then the origin), or the origin's first when it holds that listing already
    /// (``SyncSource/holdsListing(for:hints:)``: the pack its ancestry question brought, when no mirror could tell),
    /// so the listing is downloaded once. When the origin's listing fails in a way that moves the chain on (a
    /// ``SourceFailure`` or a ``SmartSyncError``, classified as ``FailoverSource`` does), the chain is asked as it
    /// would have been.
    public func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing {
        if let origin, origin.holdsListing(for: ref, hints: hints) {
            do {
                return try await origin.listing(for: ref, hints: hints)
            } catch {
                // Classified as the chain's own run does.
                guard let failure = SourceFailure.classify(error) else { throw error }
                guard let why = chain.policy.reason(for: failure, in: .listing) else { throw failure.error }
                logger.debug(
                    "the origin's held listing of \(ref.commit.abbreviated()) failed (\(why)); the mirrors next")
            }
        }
        return try await chain.listing(for: ref, hints: hints)
    }

    /// Kept here, and said to the origin (never to a mirror: a mirror answers its questions from `commits/`, never
    /// a listing's pack) only by ``isAncestor(_:of:)``, just before the origin is asked, and only when every mirror
    /// answered that it has not published the new commit itself: the origin's pack source then asks for the
    /// listing's pack in the question's request and holds it (``GitPackSource/listingAhead(_:hints:)``), and
    /// ``listing(for:hints:)`` takes the listing from the origin, which no mirror could have served. A mirror that is
    /// down at the new commit's own request (unreachable, 5xx or rate-limited after its retries:
    /// ``MirrorSource/downReason(_:)``) counts as lacking it: ``FailoverPolicy/mirror`` would leave it for the rest of
    /// the run at the listing. It is not marked down in ``chain`` here (the checks ask each source outside its
    /// failover): a later request of the chain (blobs the listing's pack did not bring, a later ref's listing) may
    /// wait for that mirror's retries once more before the chain leaves it. A mirror that has the new commit but
    /// cannot tell the ancestry (it lacks the old commit, or the gap is past ``MirrorSource/historyLimit``), that
    /// fails further down its walk, or that served something unusable, leaves the origin to its history question:
    /// the listing and the blobs then come from the mirrors, as without the listing said ahead.
    public func listingAhead(_ ref: ResolvedRef, hints: ListingHints) {
        ahead.withLock { $0 = (ref, hints) }
    }

    public func withdrawListingAhead() {
        ahead.withLock { $0 = nil }
        origin?.withdrawListingAhead()
    }

    /// Whether the origin holds the listing (what ``listing(for:hints:)`` asks first).
    public func holdsListing(for ref: ResolvedRef, hints: ListingHints) -> Bool {
        origin?.holdsListing(for: ref, hints: hints) ?? false
    }

    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        try await chain.fetch(blobs, of: ref, into: store, progress: progress)
    }

    /// The body of commit `id` from the first mirror that has it, verified (``MirrorSource/commitObject(_:)``); the
    /// origin last, when there is one (not under `--trusted-key`). Local problems and cancellation are thrown at once.
    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        var last: SmartSyncError?
        for source in checkSources {
            do {
                return try await source.commitObject(id)
            } catch let error {
                last = try Self.passOn(error)
            }
        }
        throw last ?? SmartSyncError(.sourceUnavailable, "no mirror has commit \(id)")
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors: the first mirror whose history tells, then the
    /// origin (its compare) when there is one. A source that cannot tell (a parent it does not have: nil) or fails is
    /// passed over, never read as "no"; nil when none can tell, which the commit checks refuse. The listing said
    /// ahead for `descendant` goes to the origin when every mirror lacks `descendant` itself or is down at its
    /// request (``listingAhead(_:hints:)``).
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        var everyMirrorLacksIt = true
        for mirror in mirrors {
            do {
                switch try await mirror.ancestry(ancestor, of: descendant) {
                case .told(let answer): return answer
                case .cannotTell(let lacksDescendant): everyMirrorLacksIt = everyMirrorLacksIt && lacksDescendant
                // Down at the new commit's own request (unreachable, failing, throttled: what the chain leaves for
                // the rest of the run): it cannot serve the listing either, so it counts as lacking the commit.
                case .down(let error): _ = try Self.passOn(error)
                }
            } catch let error {
                // It served the new commit and failed further down, or served something unusable: it may still
                // serve the listing.
                _ = try Self.passOn(error)
                everyMirrorLacksIt = false
            }
        }
        guard let origin else { return nil }
        if everyMirrorLacksIt, let ahead = ahead.withLock({ $0 }), ahead.ref.commit == descendant {
            origin.listingAhead(ahead.ref, hints: ahead.hints)
        }
        do {
            return try await origin.isAncestor(ancestor, of: descendant)
        } catch let error {
            _ = try Self.passOn(error)
            return nil
        }
    }

    /// The mirrors, in the order they are asked.
    private var mirrors: [MirrorSource] { chain.sources.compactMap { $0 as? MirrorSource } }

    /// The mirrors, then the origin (outside the chain's failover: a check asks each in turn, whatever the run's
    /// blobs did).
    private var checkSources: [any SyncSource] {
        mirrors + (origin.map { [$0] } ?? [])
    }

    /// A source's failure to answer a check: the error to remember when the next source may answer, or thrown again
    /// when it is the run's own (the disk, a lock, cancellation, the operator's limits).
    private static func passOn(_ error: any Error) throws -> SmartSyncError {
        let failure =
            SourceFailure.classify(error)
            ?? SourceFailure(.local, SmartSyncError(.cancelled, "the commit check was cancelled"))
        guard ![.local, .limitExceeded].contains(failure.reason), !Task.isCancelled else { throw error }
        return failure.error
    }

    public var transport: String { chain.transport }

    public var fallbackReason: String? { chain.fallbackReason }

    /// Every source's counters: the chain counts the mirrors and the origin (the origin's resolve included).
    public var statistics: SourceStatistics { chain.statistics }

    public func close() { chain.close() }
}
