import Logging
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Mirrors before the origin (`--mirror`): the origin resolves the ref (one conditional request, as without
/// mirrors), and listings and blobs go to the mirrors in order, then the origin, through a ``FailoverSource`` under
/// ``FailoverPolicy/mirror``. With a ``MirrorTrust`` (`--trusted-key`) there is no origin at all: the mirrors' signed
/// `refs` resolve the ref, and the chain holds only the mirrors.
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

    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        try await chain.listing(for: ref)
    }

    public func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing {
        try await chain.listing(for: ref, hints: hints)
    }

    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        try await chain.fetch(blobs, of: ref, into: store, progress: progress)
    }

    /// The body of commit `id` from the first mirror that has it, verified (``MirrorSource/commitObject(_:)``).
    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        var last: SmartSyncError?
        for case let mirror as MirrorSource in chain.sources {
            do {
                return try await mirror.commitObject(id)
            } catch let failure as SourceFailure {
                last = failure.error
            } catch let error as SmartSyncError where SourceFailure(classifying: error).reason != .local {
                last = error
            }
        }
        throw last ?? SmartSyncError(.sourceUnavailable, "no mirror has commit \(id)")
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors, from the first mirror whose history tells; nil
    /// when none can (``MirrorSource/isAncestor(_:of:)``).
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        for case let mirror as MirrorSource in chain.sources {
            if let answer = try? await mirror.isAncestor(ancestor, of: descendant) { return answer }
        }
        return nil
    }

    public var transport: String { chain.transport }

    public var fallbackReason: String? { chain.fallbackReason }

    /// Every source's counters: the chain counts the mirrors and the origin (the origin's resolve included).
    public var statistics: SourceStatistics { chain.statistics }

    public func close() { chain.close() }
}
