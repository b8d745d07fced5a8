import FoundationEssentials
import Logging
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncGitProtocol
import SmartSyncObjectStore
import SmartSyncTransfer
import Synchronization

/// A git host as a source: refs from `ls-refs`, commits, trees and blobs from protocol v2 packs, imported into the
/// store (``PackImporter``), listings read back from the stored trees (``StoredTrees``).
///
/// After a first sync the store holds the previous commit's closure, so the next update says `have` and `shallow` for
/// it and the server sends only the changed objects, as deltas against what the host already has: the bytes of a
/// `git fetch --depth 1`, without a `.git`.
///
/// With a ``raw`` source (`--transport auto`) blobs over ``largeBlobThreshold`` are left out of the pack
/// (`filter blob:limit`) and fetched one per request, so they resume with `Range` after an interruption. A failure
/// there is thrown as a ``SourceFailure`` of reason ``SourceFailure/Reason/delegated`` (a ``FailoverSource`` unwraps
/// it); every other failure as a ``SmartSyncError``.
public final class GitPackSource: SyncSource {
    /// `{git-url}/{owner}/{repo}.git`.
    public let repositoryURL: String
    let client: UploadPackClient
    let store: ObjectStore
    /// Blobs over ``largeBlobThreshold`` and refs `ls-refs` cannot name (short SHAs) go here; nil: packs only.
    let raw: (any SyncSource)?
    /// Blobs larger than this travel through ``raw`` (when there is one).
    public let largeBlobThreshold: Int
    let log: PackCommitLog
    let capabilityCache: CapabilityCache
    /// What the run may still add to the store (`--max-download`), shared with the per-blob path; nil: no limit.
    let storeBudget: ByteBudget?
    let notice: @Sendable (String) -> Void
    /// Where the source's decisions go (capabilities from the cache, filters, `have`s, trees from the store).
    let logger: Logger
    let state = Mutex(State())

    struct State {
        var stats = SourceStatistics()
        /// Blobs a filtered pack left out: known to be over the threshold.
        var filteredOut = Set<ObjectID>()
        /// Commits whose listing came in a pack that left out the blobs over the threshold (`blob:limit`): a blob of
        /// theirs still missing when it is fetched was left out, so it is over the threshold. Recorded instead of
        /// the blobs themselves: finding them would cost an `lstat` per file of the tree on every update.
        var filteredCommits = Set<ObjectID>()
        /// Commits whose pack was asked for with blobs by this source.
        var packedWithBlobs = Set<ObjectID>()
        /// The listing's hints (the target's previous commit): what fetches may say `have` for.
        var hintedHaves: [ObjectID] = []
        var usedRaw = false
        /// The per-blob path answered a commit check (its requests count, the transport stays `pack`).
        var consultedRaw = false
        /// The capabilities are in the cache (written at most once per run).
        var capabilitiesSaved = false
        /// Commits of a history pack read for an ancestry walk, held in memory, not in the store
        /// (``isAncestor(_:of:)``).
        var historyCommits: [ObjectID: [UInt8]] = [:]
        /// The listing the run will ask for next (``listingAhead(_:hints:)``).
        var listingAhead: (commit: ObjectID, hints: ListingHints)?
        /// That listing's pack, received for the ancestry question and held unpublished until the listing
        /// (``HeldListing``).
        var heldListing: HeldListing?
    }

    /// - Parameters:
    ///   - repositoryURL: `{git-url}/{owner}/{repo}.git`.
    ///   - engine: the transfer engine (its `credentialHosts` must contain the git host for the token to be sent).
    ///   - store: where packs are imported.
    ///   - raw: the per-blob path for large blobs and short SHAs (nil: packs only).
    ///   - cacheDirectory: where the server's capabilities and the listed commits are remembered between runs.
    ///   - storeBudget: what the run may add to the store, shared with the raw source (`--max-download`).
    ///   - logger: told the source's decisions at `.debug`.
    public init(
        repositoryURL: String, engine: TransferEngine, token: GitHubToken?, store: ObjectStore,
        raw: (any SyncSource)?, largeBlobThreshold: Int = 1 << 20, cacheDirectory: String?,
        retryPolicy: RetryPolicy = RetryPolicy(), storeBudget: ByteBudget? = nil,
        notice: @escaping @Sendable (String) -> Void = { _ in }, logger: Logger = .disabled
    ) {
        self.repositoryURL = repositoryURL
        self.logger = logger
        self.store = store
        self.storeBudget = storeBudget
        self.raw = raw
        self.largeBlobThreshold = largeBlobThreshold
        self.notice = notice
        log = PackCommitLog(directory: cacheDirectory, repositoryURL: repositoryURL)
        capabilityCache = CapabilityCache(directory: cacheDirectory, repositoryURL: repositoryURL)
        let cached = capabilityCache.load()
        logger.debug(
            cached == nil
                ? "capabilities of \(repositoryURL): not cached, asking info/refs"
                : "capabilities of \(repositoryURL): from the cache (no info/refs request)",
            metadata: ["capabilityCache": cached == nil ? "miss" : "hit"])
        client = UploadPackClient(
            repositoryURL: repositoryURL, engine: engine, authorization: token?.basicAuthorizationForGit,
            retryPolicy: retryPolicy,
            cachedCapabilities: cached, notice: notice)
    }

    /// `{git-url}/{owner}/{repo}.git`, the smart HTTP repository URL (the clone fallback's too).
    public static func repositoryURL(gitURL: String, owner: String, repository: String) -> String {
        (gitURL.hasSuffix("/") ? String(gitURL.dropLast()) : gitURL) + "/" + URLPath.encodeSegment(owner) + "/"
            + URLPath.encodeSegment(repository) + ".git"
    }

    public var displayName: String { "git:" + repositoryURL }

    public var transport: String { state.withLock { $0.usedRaw } ? "pack+raw" : "pack" }

    public var statistics: SourceStatistics {
        guard let raw, state.withLock({ $0.usedRaw || $0.consultedRaw }) else { return ownStatistics }
        return ownStatistics + raw.statistics
    }

    /// The git host's traffic alone, without the per-blob path's (what a ``FailoverSource`` adds to the per-blob
    /// path's after a switch).
    public var ownStatistics: SourceStatistics {
        var total = state.withLock { $0.stats }
        let wire = client.statistics
        total.apiRequests += max(0, wire.requests - total.packRequests)
        total.bytesReceived += wire.bytesReceived
        total.bytesSent += wire.bytesSent
        total.connections += wire.newConnections
        total.count(.git, requests: wire.requests, bytes: wire.bytesReceived)
        return total
    }

    public func close() {
        dropHeldListing()  // its objects, never published, go with their batch
        raw?.close()
    }

    // MARK: - Resolve

    /// One `ls-refs` for every full name ``RefName`` may mean (`ref-prefix` lines; `HEAD` for no ref), decided by
    /// ``RefName/match(in:source:)``, annotated tags peeled. A full SHA needs no request: the pack either holds that
    /// commit or the fetch fails. ls-refs cannot expand a short SHA: that goes to the raw source's REST API.
    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        try await resolve(ref, found: { $0 }, raw: { try await $0.resolve(ref) })
    }

    /// A short SHA is asked ahead of the per-blob path too (``SyncSource/resolveAhead(_:)``): its failover to the
    /// clone answers nil.
    public func resolveAhead(_ ref: String?) async throws -> ResolvedRef? {
        try await resolve(ref, found: { $0 }, raw: { try await $0.resolveAhead(ref) })
    }

    /// `ref` by ls-refs, `found` making the answer of what that found, or `raw` asked on the per-blob path.
    private func resolve<Answer>(
        _ ref: String?, found: (ResolvedRef) -> Answer, raw resolveRaw: (any SyncSource) async throws -> Answer
    ) async throws -> Answer {
        let name = try RefName(ref)
        if case .commit(let id) = name.kind { return found(ResolvedRef(name: name.text, commit: id)) }
        let refs = try await remember { try await client.lsRefs(prefixes: name.candidates) }
        switch try name.match(in: refs.map(\.name), source: repositoryURL) {
        case .ref(let full):
            return found(ResolvedRef(name: name.text, commit: refs.first { $0.name == full }!.target))
        case .abbreviatedCommit:
            guard let raw else {
                throw SmartSyncError(
                    .notFound,
                    "'\(name.text)' is no branch or tag of \(repositoryURL), and the pack "
                        + "transport cannot expand a short SHA",
                    hint: "give the full 40-character commit SHA, or use --transport auto or raw"
                )
            }
            logger.debug(
                "'\(name.text)' names no ref of \(repositoryURL): a short SHA, resolved on the per-blob path")
            return try await onRawPath { try await resolveRaw(raw) }
        }
    }

    // MARK: - Listing

    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        try await listing(for: ref, hints: ListingHints())
    }

    public func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing {
        await salvageSpools()
        state.withLock { $0.hintedHaves = hints.haves }
        // The ancestry question brought this listing's pack (``isAncestor(_:of:)``): the checks passed, so it is
        // published now.
        if let listing = try await publishHeldListing(ref, hints: hints) {
            log.record(ref.commit)
            return listing
        }
        // An earlier run (another target, a warm, a plan or an interrupted pack) may have stored the trees already.
        if store.contains(ref.commit), let listing = try? StoredTrees.listing(commit: ref.commit, in: store) {
            logger.debug("listing of \(ref.commit.abbreviated()): its trees are in the store, no pack asked for")
            log.record(ref.commit)
            return listing
        }
        let capabilities = try await remember { try await client.capabilities() }
        let filter = listingFilter(hints, capabilities: capabilities)
        if !capabilities.supportsFilter && !hints.withBlobs {
            // A plan must not download content, and this host cannot leave blobs out of a pack.
            if let raw {
                logger.debug(
                    "listing through the per-blob path: \(repositoryURL) offers no filter (a plan fetches no content)")
                return try await onRawPath { try await raw.listing(for: ref, hints: hints) }
            }
            notice(
                "\(repositoryURL) cannot leave blobs out of a pack (it offers no filter): the plan brings the tree's "
                    + "content into the store; the target is not touched"
            )
        }
        logger.debug(
            "listing of \(ref.commit.abbreviated()): asking for the commit's pack",
            metadata: [
                "filter": "\(filter ?? "none")", "withBlobs": "\(hints.withBlobs)",
                "serverFilters": "\(capabilities.supportsFilter)",
            ])
        let listing = try await fetchCommitPack(ref, filter: filter, capabilities: capabilities)
        state.withLock { s in
            if filter?.hasPrefix("blob:limit") == true { s.filteredCommits.insert(ref.commit) }
            if hints.withBlobs { s.packedWithBlobs.insert(ref.commit) }
        }
        log.record(ref.commit)
        return listing
    }

    /// The filter a listing's pack is asked with: none for a sync on the pack transport alone, `blob:limit` with a raw
    /// source, `blob:none` for a plan (nil where the host offers no filter).
    func listingFilter(_ hints: ListingHints, capabilities: UploadPackCapabilities) -> String? {
        guard capabilities.supportsFilter else { return nil }
        if !hints.withBlobs { return "blob:none" }
        return raw != nil ? "blob:limit=\(largeBlobThreshold)" : nil
    }

    /// Asks for the pack of `ref`'s commit at depth 1 with `have`s for what the store holds. When the answer does not
    /// fit those haves (``receivePackFittingHaves(_:what:budget:check:)``), it is asked once more without them.
    ///
    /// - Parameter closure: how many objects the commit reaches, when its trees are in the store (the pack's count
    ///   cannot be more).
    /// - Returns: the commit's listing, read from the stored trees.
    @discardableResult
    func fetchCommitPack(
        _ ref: ResolvedRef, filter: String?, capabilities: UploadPackCapabilities, closure: Int? = nil
    ) async throws -> TreeListing {
        let haves = usableHaves(excluding: ref.commit, capabilities: capabilities)
        let deepen = capabilities.supportsShallow ? 1 : nil
        let request = PackRequest(wants: [ref.commit], haves: haves, shallows: haves, deepen: deepen, filter: filter)
        let budget = PackBudget.commit(ref.commit, filter: filter, history: deepen == nil, closure: closure)
        let what = "commit \(ref.commit.abbreviated()) of \(ref.name)"
        return try await receivePackFittingHaves(request, what: what, budget: budget) {
            // The commit arrived and its trees can be listed (a missing tree throws `.notFound`, naming it).
            guard store.contains(ref.commit) else {
                throw MissingWants([(id: ref.commit, name: "commit \(ref.commit)")])
            }
            return try StoredTrees.listing(commit: ref.commit, in: store)
        }.value
    }

    /// Wanted objects a pack did not bring: the server counted them among what the `have`s reach (the store lost
    /// them, or knew them only under an excluded path), or it is broken.
    struct MissingWants: Error {
        /// Each object and how it is named in a message (`<id> ('path')`).
        var objects: [(id: ObjectID, name: String)]

        init(_ objects: [(id: ObjectID, name: String)]) { self.objects = objects }

        var description: String {
            let n = objects.count
            return "\(n) wanted object\(n == 1 ? "" : "s") missing: "
                + objects.prefix(5).map(\.name).joined(separator: ", ") + (n > 5 ? ", …" : "")
        }
    }

    /// Receives the pack for `request` and returns what `check` makes of the store then, with the bytes received.
    ///
    /// When the pack does not fit the `have`s sent, it is asked for once more without them (and without `shallow`s):
    /// one way for both ways a pack can miss what the store lacks, a rare case worth one request more rather than a
    /// check of the `have`s' whole closure on every update (``usableHaves(excluding:capabilities:)``):
    ///
    /// - the import meets a thin delta against an object the store lacks, or `check` a tree the pack left out
    ///   (`.notFound`): the same wants again;
    /// - `check` finds wanted objects missing (``MissingWants``): those alone.
    ///
    /// Wanted objects still missing then (or missing with no `have`s sent) fail the fetch as `.malformedResponse`,
    /// naming them.
    func receivePackFittingHaves<T>(
        _ request: PackRequest, what: String, budget: PackBudget, check: () throws -> T
    ) async throws -> (value: T, bytes: Int) {
        var request = request
        var bytes = 0
        let reason: String
        do {
            bytes += try await receivePack(request, what: what, budget: budget)
            return (try check(), bytes)
        } catch let missing as MissingWants where !request.haves.isEmpty {
            reason = missing.description
            request.wants = missing.objects.map(\.id)
        } catch let error as SmartSyncError where error.code == .notFound && !request.haves.isEmpty {
            reason = error.message
        } catch let missing as MissingWants {
            throw missingWants(missing, what: what, retried: false)
        }
        notice("the pack for \(what) did not fit the commits this store has (\(reason)); asking again without them")
        request.haves = []
        request.shallows = []
        bytes += try await receivePack(request, what: what, budget: budget)
        do {
            return (try check(), bytes)
        } catch let missing as MissingWants {
            throw missingWants(missing, what: what, retried: true)
        }
    }

    private func missingWants(_ missing: MissingWants, what: String, retried: Bool) -> SmartSyncError {
        SmartSyncError(
            .malformedResponse,
            "the pack for \(what) from \(repositoryURL) left out what was asked for (\(missing.description))"
                + (retried ? ", asked for again without `have`s" : "") + "; nothing was changed")
    }

    /// The commits a request may say `have` (and `shallow`) for, at most two. None when the server cannot take
    /// `shallow` lines: a bare `have` would claim the commit's whole history.
    ///
    /// - The hinted ones (the target's previous commit) need their commit and root tree in the store. Their subtrees
    ///   and blobs are almost always there too (the target was applied from them), but not for paths the target
    ///   `--exclude`s, nor after a gc or a transport that keeps no trees; a thin delta against an object the store
    ///   lacks, a tree or a blob the server leaves out, makes the pack fail to fit, which asks again without `have`s
    ///   (``receivePackFittingHaves(_:what:budget:check:)``). One request more in that rare case instead of reading
    ///   every tree of the old commit on every update.
    /// - Those this store listed before (other targets, warms, plans) need their whole closure, checked, so they are
    ///   only looked at when no hinted commit is usable: a new target or a `warm`.
    func usableHaves(excluding wanted: ObjectID, capabilities: UploadPackCapabilities) -> [ObjectID] {
        guard capabilities.supportsShallow else { return [] }
        var seen = Set<ObjectID>([wanted])
        var haves: [ObjectID] = []
        let hinted = state.withLock { $0.hintedHaves }
        for commit in hinted where seen.insert(commit).inserted {
            guard let root = try? StoredTrees.rootTree(ofCommit: commit, in: store), store.contains(root) else {
                continue
            }
            haves.append(commit)
        }
        if !haves.isEmpty { return Array(haves.prefix(2)) }
        for commit in log.load() where haves.count < 2 && seen.insert(commit).inserted {
            guard store.contains(commit), StoredTrees.missingObjects(commit: commit, in: store).isEmpty else {
                continue
            }
            haves.append(commit)
        }
        return Array(haves.prefix(2))
    }

    /// Runs a call on the raw source. Its failure is thrown as a ``SourceFailure`` of reason
    /// ``SourceFailure/Reason/delegated``, so `--transport auto` (``FailoverPolicy/packTransport``) reports it
    /// instead of retrying the same downloads through the same path.
    func onRawPath<T>(_ body: () async throws -> T) async throws -> T {
        state.withLock { $0.usedRaw = true }
        return try await Self.delegated(body)
    }

    /// `body`'s failure as a ``SourceFailure`` of reason ``SourceFailure/Reason/delegated``.
    static func delegated<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as SourceFailure {
            throw SourceFailure(.delegated, failure.error)
        } catch let error as SmartSyncError {
            throw SourceFailure(.delegated, error)
        }
    }

    /// Runs a pack-path request; a failure drops the cached capabilities, so the next run asks the server again.
    func remember<T>(_ body: () async throws -> T) async throws -> T {
        do {
            let value = try await body()
            if !state.withLock({ $0.capabilitiesSaved }) {
                // Known by now (the client asks once), so this costs no request; saved once per run.
                capabilityCache.store(try await client.capabilities())
                state.withLock { $0.capabilitiesSaved = true }
            }
            return value
        } catch {
            capabilityCache.clear()
            state.withLock { $0.capabilitiesSaved = false }
            if let refused = error as? SmartSyncError, refused.cause is ProtocolUnsupported {
                capabilityCache.refuse(reason: refused.message)
            }
            throw error
        }
    }
}
