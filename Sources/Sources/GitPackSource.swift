import Foundation
import GitObjects
import GitPack
import ObjectStore
import SmartSyncCore
import Transfer

/// A git host as a source: refs from `ls-refs`, commits, trees and blobs from protocol v2 packs, imported into the
/// store (``PackImporter``), listings read back from the stored trees (``StoredTrees``).
///
/// After a first sync the store holds the previous commit's closure, so the next update says `have` and `shallow` for
/// it and the server sends only the changed objects, as deltas against what the host already has: the bytes of a
/// `git fetch --depth 1`, without a `.git`.
///
/// With a ``raw`` source (`--transport auto`) blobs over ``largeBlobThreshold`` are left out of the pack
/// (`filter blob:limit`) and fetched one per request, so they resume with `Range` after an interruption.
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
    let notice: @Sendable (String) -> Void
    let state = Locked(State())

    struct State {
        var stats = SourceStatistics()
        /// Blobs a filtered pack left out: known to be over the threshold.
        var filteredOut = Set<ObjectID>()
        var usedRaw = false
    }

    /// - Parameters:
    ///   - repositoryURL: `{git-url}/{owner}/{repo}.git`.
    ///   - engine: the transfer engine (its `credentialHosts` must contain the git host for the token to be sent).
    ///   - store: where packs are imported.
    ///   - raw: the per-blob path for large blobs and short SHAs (nil: packs only).
    ///   - cacheDirectory: where the server's capabilities and the listed commits are remembered between runs.
    public init(
        repositoryURL: String, engine: TransferEngine, token: GitHubToken?, store: ObjectStore,
        raw: (any SyncSource)?, largeBlobThreshold: Int = 1 << 20, cacheDirectory: String?,
        retryPolicy: RetryPolicy = RetryPolicy(), notice: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.repositoryURL = repositoryURL
        self.store = store
        self.raw = raw
        self.largeBlobThreshold = largeBlobThreshold
        self.notice = notice
        log = PackCommitLog(directory: cacheDirectory, repositoryURL: repositoryURL)
        capabilityCache = CapabilityCache(directory: cacheDirectory, repositoryURL: repositoryURL)
        client = UploadPackClient(
            repositoryURL: repositoryURL, engine: engine, token: token, retryPolicy: retryPolicy,
            cachedCapabilities: capabilityCache.load(), notice: notice)
    }

    /// `{git-url}/{owner}/{repo}.git`, the smart HTTP repository URL (the clone fallback's too).
    public static func repositoryURL(gitURL: String, owner: String, repository: String) -> String {
        (gitURL.hasSuffix("/") ? String(gitURL.dropLast()) : gitURL) + "/" + URLPath.encodeSegment(owner) + "/"
            + URLPath.encodeSegment(repository) + ".git"
    }

    /// The host (with a non-default port) that receives the token for pack requests.
    public static func credentialHost(gitURL: String) -> String? { URLPath.authority(of: gitURL) }

    public var displayName: String { "git:" + repositoryURL }

    public var transport: String { state.withLock { $0.usedRaw } ? "pack+raw" : "pack" }

    public var statistics: SourceStatistics {
        var total = state.withLock { $0.stats }
        let wire = client.statistics
        total.apiRequests += wire.requests - total.packRequests
        total.bytesReceived += wire.bytesReceived
        total.bytesSent += wire.bytesSent
        total.connections += wire.newConnections
        if let raw, state.withLock({ $0.usedRaw }) {
            let r = raw.statistics
            total.apiRequests += r.apiRequests
            total.notModified += r.notModified
            total.blobRequests += r.blobRequests
            total.bytesReceived += r.bytesReceived
            total.connections += r.connections
            total.retries += r.retries
        }
        return total
    }

    public func close() {
        raw?.close()
    }

    // MARK: - Resolve

    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        let name = ref ?? "HEAD"
        guard !name.isEmpty, !name.contains(".."), !name.hasPrefix("/"), !name.contains("\0"),
            !name.contains(" "), !name.contains("\n")
        else {
            throw SmartSyncError(.invalidArgument, "'\(name)' is not a valid ref; give a branch, tag or commit SHA")
        }
        // A full SHA needs no question: the pack either holds that commit or the fetch fails.
        if let id = ObjectID(hex: name.lowercased()) { return ResolvedRef(name: name, commit: id) }
        // git's order, as GitHub applies it: the name itself under refs/, then a branch, then a tag.
        let candidates =
            name == "HEAD"
            ? ["HEAD"]
            : (name.hasPrefix("refs/") ? [name] : []) + ["refs/" + name, "refs/heads/" + name, "refs/tags/" + name]
        let refs = try await remember { try await client.lsRefs(prefixes: candidates) }
        for candidate in candidates {
            if let found = refs.first(where: { $0.name == candidate }) {
                return ResolvedRef(name: name, commit: found.peeled ?? found.id)
            }
        }
        if let raw, name.count >= 4, name.allSatisfy(\.isHexDigit) {
            // ls-refs names refs only; the REST API resolves abbreviated SHAs.
            return try await raw.resolve(ref)
        }
        throw SmartSyncError(
            .notFound,
            "ref '\(name)' was not found in \(repositoryURL) (no branch or tag of that name); check the name, or give the full 40-character commit SHA"
        )
    }

    // MARK: - Listing

    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        try await listing(for: ref, hints: ListingHints())
    }

    public func listing(for ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing {
        await salvageSpools()
        // An earlier run (another target, a warm, or an interrupted pack) may have stored the trees already.
        if store.contains(ref.commit), let listing = try? StoredTrees.listing(commit: ref.commit, in: store) {
            log.record(ref.commit)
            return listing
        }
        let capabilities = try await remember { try await client.capabilities() }
        let haves = completeHaves(hints.haves, excluding: ref.commit)
        var request = PackRequest(wants: [ref.commit])
        request.haves = haves
        request.shallows = haves
        if capabilities.supportsShallow { request.deepen = 1 }
        let filtered = capabilities.supportsFilter && (!hints.withBlobs || raw != nil)
        if filtered { request.filter = hints.withBlobs ? "blob:limit=\(largeBlobThreshold)" : "blob:none" }
        try await receivePack(request, what: "commit \(ref.commit.abbreviated()) of \(ref.name)")
        guard store.contains(ref.commit) else {
            throw SmartSyncError(
                .malformedResponse,
                "the pack from \(repositoryURL) did not contain the wanted commit \(ref.commit); nothing was changed")
        }
        let listing = try StoredTrees.listing(commit: ref.commit, in: store)
        if filtered && hints.withBlobs {
            let omitted = listing.files.filter { !store.contains($0.id) }.map(\.id)
            state.withLock { $0.filteredOut.formUnion(omitted) }
        }
        log.record(ref.commit)
        return listing
    }

    /// The hinted and logged commits whose closure is whole in the store (at most two: one is what a sync needs).
    func completeHaves(_ hinted: [ObjectID], excluding wanted: ObjectID) -> [ObjectID] {
        var seen = Set<ObjectID>([wanted])
        var haves: [ObjectID] = []
        for commit in hinted + log.load() where seen.insert(commit).inserted {
            guard store.contains(commit), StoredTrees.missingObjects(commit: commit, in: store).isEmpty else {
                continue
            }
            haves.append(commit)
            if haves.count == 2 { break }
        }
        return haves
    }

    /// Runs a pack-path request; a failure drops the cached capabilities, so the next run asks the server again.
    func remember<T>(_ body: () async throws -> T) async throws -> T {
        do {
            let value = try await body()
            // Known by now (the client asks once), so this costs no request.
            capabilityCache.store(try await client.capabilities())
            return value
        } catch {
            capabilityCache.clear()
            throw error
        }
    }
}
