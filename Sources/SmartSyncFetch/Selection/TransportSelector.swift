import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import Synchronization

/// `--transport auto`: the pack transport while it works, the per-blob path (REST + raw, with its own clone fallback)
/// as soon as it does not — a git host that does not speak protocol v2, is unreachable, or sent a pack that failed
/// verification. Local failures (a full disk, a lock, a conflict) are reported, not retried another way.
///
/// The switch is announced once through `notice` and kept in ``fallbackReason``; the rest of the run stays on the
/// per-blob path. What the pack stored before it failed stays in the store, and the per-blob path skips it.
public final class TransportSelector: SyncSource {
    public let pack: GitPackSource
    public let raw: any SyncSource
    private let notice: @Sendable (String) -> Void
    private let reason = Mutex<String?>(nil)

    public init(pack: GitPackSource, raw: any SyncSource, notice: @escaping @Sendable (String) -> Void = { _ in }) {
        self.pack = pack
        self.raw = raw
        self.notice = notice
    }

    public var displayName: String { raw.displayName }

    public var transport: String { reason.withLock { $0 } == nil ? pack.transport : raw.transport }

    public var fallbackReason: String? { reason.withLock { $0 } ?? raw.fallbackReason }

    public var statistics: SourceStatistics {
        guard reason.withLock({ $0 }) != nil else { return pack.statistics }
        // The git host's requests before the switch, plus the per-blob path's (the pack source's large-blob
        // downloads included: they went through the same per-blob source).
        return pack.packStatistics + raw.statistics
    }

    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        try await attempt {
            try await $0.resolve(ref)
        } else: {
            try await $0.resolve(ref)
        }
    }

    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        try await listing(for: ref, hints: ListingHints())
    }

    public func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing {
        try await attempt {
            try await $0.listing(for: ref, hints: hints)
        } else: {
            try await $0.listing(for: ref, hints: hints)
        }
    }

    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        try await attempt {
            try await $0.fetch(blobs, of: ref, into: store, progress: progress)
        } else: {
            try await $0.fetch(blobs, of: ref, into: store, progress: progress)
        }
    }

    public func close() {
        pack.close()  // closes raw too: the pack source holds it for large blobs
    }

    private func attempt<T: Sendable>(
        _ viaPack: (GitPackSource) async throws -> T, else viaRaw: (any SyncSource) async throws -> T
    ) async throws -> T {
        if reason.withLock({ $0 }) == nil {
            pack.clearFailure()
            do {
                return try await viaPack(pack)
            } catch let error as SmartSyncError {
                // The per-blob path's own failure (large blobs, short SHAs) is reported: it would only fail again.
                guard !pack.failedOnRawPath, let why = Self.switchReason(for: error) else { throw error }
                let first = reason.withLock { r -> Bool in
                    guard r == nil else { return false }
                    r = why
                    return true
                }
                if first { notice("using per-blob downloads: \(why)") }
            }
        }
        return try await viaRaw(raw)
    }

    /// Why `error` from the pack path justifies the per-blob path, or nil when it must be reported.
    static func switchReason(for error: SmartSyncError) -> String? {
        // Local problems, answers about the repository or ref that the REST API would give as well, and the run's
        // own limits (--max-download, --request-timeout), which the per-blob path would only meet again.
        let local: Set<SmartSyncError.Code> = [
            .io, .locked, .conflict, .cancelled, .unsafePath, .invalidArgument, .unauthorized, .limitExceeded,
        ]
        guard !local.contains(error.code) else { return nil }
        return "the pack transport failed (\(error.message))"
    }
}
