import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// A place commits, trees and blobs come from: GitHub, a mirror, or a local git repository.
///
/// Everything a source returns but the commit id is checked by the caller: listings against the root tree id
/// (``TreeListing/verify()``), blobs by their id as they are written into the store.
public protocol SyncSource: Sendable {
    /// A short human name, e.g. `github:owner/repo` or `git:/srv/repo.git`.
    var displayName: String { get }

    /// Resolves a ref (branch, tag, annotated tag, full ref name, full or short SHA; nil: the default branch) to one
    /// commit, by ``RefName``'s rule, the same on every source.
    func resolve(_ ref: String?) async throws -> ResolvedRef

    /// ``resolve(_:)``'s answer, for a run to ask before it knows it will go on (beside its local steps), or nil where
    /// resolving is a transfer of its own, not worth starting early: the shallow clone's resolve is the whole
    /// `git fetch`, and a child process is not cancelled with the run. The run then resolves when it needs the answer.
    ///
    /// Default: ``resolve(_:)``. A source that hands a resolve to another (a failover, the pack source's per-blob
    /// path, the mirrors' origin) asks it this way too, so a failover to the clone in the middle of the call does not
    /// fetch early either.
    func resolveAhead(_ ref: String?) async throws -> ResolvedRef?

    /// The full flattened tree of a resolved commit (subtrees included, so it can be verified).
    func listing(for ref: ResolvedRef) async throws -> TreeListing

    /// The listing, with hints a delta transport can use (commits already complete in the store; whether blobs may
    /// come along with the trees). Sources that cannot use them list as ``listing(for:)`` does.
    func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing

    /// Says, before the commit checks, which listing the run will ask for next (``listing(for:hints:)`` with the same
    /// `ref` and `hints`), so that a source whose ancestry question costs a request of its own may ask for the
    /// listing's content in that request instead (the pack source alone: ``GitPackSource``). Nothing of it may reach
    /// the store, nor anything be written, before the checks have passed.
    ///
    /// Default: nothing.
    func listingAhead(_ ref: ResolvedRef, hints: ListingHints)

    /// Takes back ``listingAhead(_:hints:)``: the checks refused the commit (or failed), and no listing follows.
    /// Whatever the source holds for that listing is dropped now, not at ``close()``.
    ///
    /// Default: nothing.
    func withdrawListingAhead()

    /// Whether this source holds the listing of `ref` asked with `hints` already, downloaded with the ancestry
    /// question it was said ahead for (``listingAhead(_:hints:)``; the pack source alone): its
    /// ``listing(for:hints:)`` then costs no download. A source that would ask others first for listings
    /// (``MirroredSource``) asks this one first instead, so the listing is downloaded once.
    ///
    /// Default: false.
    func holdsListing(for ref: ResolvedRef, hints: ListingHints) -> Bool

    /// Downloads `blobs` into `store`, each verified by its id. Blobs already present are skipped.
    func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress) async throws
        -> FetchReport

    /// How blobs travel: `raw` (one request per blob), `pack` (git packs), `pack+raw` (packs, and large blobs one
    /// per request), `clone` (the shallow-clone fallback), `local` (a local repository).
    var transport: String { get }

    /// Why the run left its first path (the pack transport or the API) for another, or nil when it did not.
    var fallbackReason: String? { get }

    /// Traffic counters so far.
    var statistics: SourceStatistics { get }

    /// This source's own counters, without those of a source it hands work to (the pack source's per-blob path):
    /// what a ``FailoverSource`` counts for a source it left, the next source reporting its own.
    var ownStatistics: SourceStatistics { get }

    /// Persists caches (validators, capabilities) and releases connections. May be called more than once (a
    /// source can be closed by a failover and by a source that hands work to it).
    func close()

    /// The body of commit `id` (git's bytes without the `commit <size>\0` header), verified to hash to `id`.
    ///
    /// Default: throws `.sourceUnavailable` (this source cannot give a commit's own bytes).
    func commitObject(_ id: ObjectID) async throws -> [UInt8]

    /// Whether `ancestor` is `descendant` itself or one of its ancestors; nil when this source cannot tell.
    ///
    /// Default: nil.
    func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool?
}

extension SyncSource {
    public func resolveAhead(_ ref: String?) async throws -> ResolvedRef? {
        try await resolve(ref)
    }

    public func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing {
        try await listing(for: ref)
    }

    public func listingAhead(_ ref: ResolvedRef, hints: ListingHints) {}

    public func withdrawListingAhead() {}

    public func holdsListing(for ref: ResolvedRef, hints: ListingHints) -> Bool { false }

    public var fallbackReason: String? { nil }

    public var ownStatistics: SourceStatistics { statistics }

    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        throw SmartSyncError(
            .sourceUnavailable, "\(displayName) cannot give the object of commit \(id)",
            hint: "use a source that can (the GitHub API, a git host, a local repository)")
    }

    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? { nil }
}

extension CommitObject {
    /// `body` when it hashes to `id` as a commit object; else an `.integrity` error naming `id` and `source`.
    public static func verified(_ body: [UInt8], id: ObjectID, from source: String) throws -> [UInt8] {
        let actual = ObjectID.hash(.commit, body)
        guard actual == id else {
            throw SmartSyncError(
                .integrity, "\(source) gave bytes for commit \(id) that hash to \(actual); not used",
                hint: "the source is damaged or lying; try another source")
        }
        return body
    }
}

/// What a sync knows that can make a listing cheaper.
public struct ListingHints: Sendable, Equatable {
    /// Commits the target (or an earlier run) synced: a delta transport may say `have` for those whose objects are
    /// all in the store, and receive only what changed since.
    public var haves: [ObjectID]
    /// Blobs may be fetched together with the trees (a sync); false for a plan, which must not download content.
    public var withBlobs: Bool

    public init(haves: [ObjectID] = [], withBlobs: Bool = true) {
        self.haves = haves
        self.withBlobs = withBlobs
    }
}

/// A ref resolved to a commit.
public struct ResolvedRef: Sendable, Hashable, Codable {
    /// The ref as asked, or the default branch's name when none was given.
    public var name: String
    /// The commit. Everything after resolution uses this, never the ref.
    public var commit: ObjectID
    /// The commit's root tree, when the source learned it while resolving.
    public var rootTree: ObjectID?

    public init(name: String, commit: ObjectID, rootTree: ObjectID? = nil) {
        self.name = name
        self.commit = commit
        self.rootTree = rootTree
    }
}

/// One blob to fetch, with a path where it appears (raw hosts address blobs by commit and path).
public struct BlobWant: Sendable, Hashable {
    public var id: ObjectID
    public var path: TreePath
    public var size: Int?

    public init(id: ObjectID, path: TreePath, size: Int?) {
        self.id = id
        self.path = path
        self.size = size
    }
}

/// What a fetch did.
public struct FetchReport: Sendable, Equatable {
    /// Blobs written into the store.
    public var blobsFetched: Int = 0
    /// Body bytes received for them (including discarded, re-fetched attempts).
    public var bytesReceived: Int = 0
    /// Blobs that failed verification and were fetched again.
    public var refetched: Int = 0

    public init() {}

    /// Adds what another fetch of the same call did (a source that stored part before the next one took over).
    public mutating func add(_ other: FetchReport) {
        blobsFetched += other.blobsFetched
        bytesReceived += other.bytesReceived
        refetched += other.refetched
    }
}

/// Requests and bytes by kind, for summaries and tests.
public struct SourceStatistics: Sendable, Equatable, Codable {
    /// API (metadata) requests sent.
    public var apiRequests: Int = 0
    /// API requests answered 304 Not Modified (free on GitHub).
    public var notModified: Int = 0
    /// Blob requests sent.
    public var blobRequests: Int = 0
    /// All body bytes received.
    public var bytesReceived: Int = 0
    /// New connections opened.
    public var connections: Int = 0
    /// The last `x-ratelimit-remaining` seen, if any.
    public var rateLimitRemaining: Int?
    /// Requests asked again after a retryable failure.
    public var retries: Int = 0
    /// Git pack requests sent (the pack transport's `fetch` commands).
    public var packRequests: Int = 0
    /// Objects (commits, trees, blobs) imported from packs.
    public var packObjects: Int = 0
    /// Request body bytes sent (pack negotiation: wants, haves, filters).
    public var bytesSent: Int = 0
    /// Requests and body bytes by the kind of host they went to (`api`, `raw`, `git`): what the metrics file counts.
    public var byHost: [HostKind: HostTraffic] = [:]

    public init() {}

    /// Counts one request (or only bytes, `requests: 0`) to a host of `kind`.
    public mutating func count(_ kind: HostKind, requests: Int = 0, bytes: Int = 0) {
        byHost[kind, default: HostTraffic()].requests += requests
        byHost[kind, default: HostTraffic()].bytes += bytes
    }
}

/// The kind of host a request went to.
public enum HostKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// The REST API (`--api-url`), blobs fetched through `/git/blobs` included.
    case api
    /// The raw content host (`--raw-url`).
    case raw
    /// The git host (`--git-url`): packs, `ls-refs`, the shallow clone.
    case git
    /// A static mirror (`--mirror`): commits, listings, objects and packs of docs/MIRROR.md's layout.
    case mirror
}

/// Requests and response body bytes to one kind of host.
public struct HostTraffic: Sendable, Hashable, Codable {
    public var requests = 0
    public var bytes = 0

    public init(requests: Int = 0, bytes: Int = 0) {
        self.requests = requests
        self.bytes = bytes
    }
}

extension SourceStatistics {
    /// Two sources' counters together (a run that used both); the rate limit is the right-hand side's when known.
    public static func + (lhs: SourceStatistics, rhs: SourceStatistics) -> SourceStatistics {
        var sum = lhs
        sum.apiRequests += rhs.apiRequests
        sum.notModified += rhs.notModified
        sum.blobRequests += rhs.blobRequests
        sum.bytesReceived += rhs.bytesReceived
        sum.connections += rhs.connections
        sum.rateLimitRemaining = rhs.rateLimitRemaining ?? lhs.rateLimitRemaining
        sum.retries += rhs.retries
        sum.packRequests += rhs.packRequests
        sum.packObjects += rhs.packObjects
        sum.bytesSent += rhs.bytesSent
        for (kind, traffic) in rhs.byHost { sum.count(kind, requests: traffic.requests, bytes: traffic.bytes) }
        return sum
    }
}

extension SourceStatistics {
    /// The counters added since `earlier` (a snapshot of the same source): what one step of a run cost. The rate
    /// limit is the latest seen.
    public func since(_ earlier: SourceStatistics) -> SourceStatistics {
        var delta = self
        delta.apiRequests -= earlier.apiRequests
        delta.notModified -= earlier.notModified
        delta.blobRequests -= earlier.blobRequests
        delta.bytesReceived -= earlier.bytesReceived
        delta.connections -= earlier.connections
        delta.retries -= earlier.retries
        delta.packRequests -= earlier.packRequests
        delta.packObjects -= earlier.packObjects
        delta.bytesSent -= earlier.bytesSent
        for (kind, traffic) in earlier.byHost { delta.count(kind, requests: -traffic.requests, bytes: -traffic.bytes) }
        return delta
    }
}

/// Progress callbacks from a fetch; called from any thread.
public struct FetchProgress: Sendable {
    /// Body bytes arrived (a delta).
    public var bytes: @Sendable (Int) -> Void
    /// A blob was verified and stored.
    public var blobDone: @Sendable (BlobWant) -> Void

    public init(
        bytes: @escaping @Sendable (Int) -> Void = { _ in }, blobDone: @escaping @Sendable (BlobWant) -> Void = { _ in }
    ) {
        self.bytes = bytes
        self.blobDone = blobDone
    }

    /// Reports nothing.
    public static let none = FetchProgress()
}
