import Logging
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Mirrors before the origin (`--mirror`): the origin resolves the ref (one conditional request, as without
/// mirrors), and listings and blobs go to the mirrors in order, then the origin, through a ``FailoverSource`` under
/// ``FailoverPolicy/mirror``; the commit checks (ancestry, a commit's object) ask the mirrors in order, then the
/// origin. With a ``MirrorTrust`` (`--trusted-key`) there is no origin at all: the mirrors' signed `refs` resolve the
/// ref, and the chain and the checks hold only the mirrors.
public final class MirroredSource: SyncSource {
    /// The mirrors, then the origin when there is one.
    public let chain: FailoverSource
    /// The source refs are resolved by: the origin, or nil when the mirrors' signed refs do it.
    public let origin: (any SyncSource)?

    /// - Parameters:
    ///   - mirrors: the mirrors, in the order they are tried.
    ///   - origin: the origin (resolves refs, and serves what no mirror could); nil with a trusted key.
    public init(
        mirrors: [MirrorSource], origin: (any SyncSource)?, notice: @escaping @Sendable (String) -> Void = { _ in },
        logger: Logger = .disabled
    ) {
        self.origin = origin
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

    public func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing {
        try await chain.listing(for: ref, hints: hints)
    }

    /// Not said to the chain (``SyncSource``'s default: nothing). Were it said, the origin's pack source would answer
    /// a question no mirror could tell with the listing's own pack (the whole delta, blobs included); when a mirror
    /// then serves the listing, that pack was downloaded for nothing, counted twice against `--max-download`, held in
    /// `tmp/` beside the mirror's, and a multi-ref warm could not hold the next ref's until ``close()``. The origin's
    /// question is its history instead: one small request more when no mirror can tell, as before.

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
    /// passed over, never read as "no"; nil when none can tell, which the commit checks refuse.
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        for source in checkSources {
            do {
                if let answer = try await source.isAncestor(ancestor, of: descendant) { return answer }
            } catch let error {
                _ = try Self.passOn(error)
            }
        }
        return nil
    }

    /// The mirrors, then the origin (outside the chain's failover: a check asks each in turn, whatever the run's
    /// blobs did).
    private var checkSources: [any SyncSource] {
        chain.sources.compactMap { $0 as? MirrorSource } + (origin.map { [$0] } ?? [])
    }

    /// A source's failure to answer a check: the error to remember when the next source may answer, or thrown again
    /// when it is the run's own (the disk, a lock, cancellation, the operator's limits).
    private static func passOn(_ error: any Error) throws -> SmartSyncError {
        let failure =
            error as? SourceFailure
            ?? (error as? SmartSyncError).map { SourceFailure(classifying: $0) }
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
