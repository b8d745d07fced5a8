import Foundation
import GitObjects
import ObjectStore
import SmartSyncCore
import Transfer

/// Where a GitHub repository lives and how to reach it.
public struct GitHubLocation: Sendable {
    public var owner: String
    public var repository: String
    /// REST API root: `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise.
    public var apiURL: String
    /// Raw content root: `https://raw.githubusercontent.com`.
    public var rawURL: String

    public init(
        owner: String, repository: String, apiURL: String = "https://api.github.com",
        rawURL: String = "https://raw.githubusercontent.com"
    ) {
        self.owner = owner
        self.repository = repository
        self.apiURL = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
        self.rawURL = rawURL.hasSuffix("/") ? String(rawURL.dropLast()) : rawURL
    }

    /// Parses `OWNER/REPO` (a trailing `.git` is dropped).
    public static func parse(_ slug: String) throws -> (owner: String, repository: String) {
        let parts = slug.split(separator: "/", omittingEmptySubsequences: false)
        let valid: (Substring) -> Bool = { part in
            !part.isEmpty && part != "." && part != ".."
                && part.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
        }
        guard parts.count == 2, valid(parts[0]), valid(parts[1]) else {
            throw SmartSyncError(
                .invalidArgument,
                "'\(slug)' is not a repository name; write it as OWNER/REPO, e.g. MasterofNull/Hyper-NixOS")
        }
        var repo = String(parts[1])
        if repo.hasSuffix(".git") { repo.removeLast(4) }
        return (String(parts[0]), repo)
    }

    var slug: String { owner + "/" + repository }
    var repoAPI: String { apiURL + "/repos/" + URLPath.encodeSegment(owner) + "/" + URLPath.encodeSegment(repository) }
}

/// GitHub as a source: refs and trees from the REST API, blobs from the raw host.
///
/// Metadata requests are conditional (`If-None-Match`) whenever a validator is cached, so an unchanged ref
/// costs a `304`, which GitHub does not count against the rate limit. API requests are paced (``RequestGate``),
/// retried on transient failures, and wait for an exhausted rate limit to reset when that is within `maxWait`.
/// Blob downloads resume from what earlier attempts and runs kept (``PartialObject``).
public final class GitHubSource: SyncSource {
    public let location: GitHubLocation
    let engine: TransferEngine
    let token: GitHubToken?
    let cache: ValidatorCache
    let stats = Locked(SourceStatistics())
    /// Paces API requests: a token bucket and at most 4 in flight (GitHub's secondary limits).
    let apiGate = RequestGate(rate: 10, burst: 20, maxConcurrent: 4)
    /// The latest rate-limit headers the API sent.
    let rateLimit = Locked<RateLimitState?>(nil)

    public var displayName: String { "github:" + location.slug }
    public var transport: String { "raw" }
    public var statistics: SourceStatistics { stats.withLock { $0 } }

    /// How failed requests are retried (`--retries`).
    let retryPolicy: RetryPolicy
    /// The longest wait for an exhausted rate limit to reset before giving up (`--max-wait`), in seconds.
    let maxWait: Double

    /// - Parameters:
    ///   - engine: the transfer engine (its `credentialHosts` must contain the API and raw hosts for the token to be sent).
    ///   - cache: validator cache for conditional requests.
    ///   - retryPolicy: how failed requests are retried.
    ///   - maxWait: the longest wait, in seconds, for an exhausted rate limit to reset.
    ///   - notice: told of each retry and wait (a slow link should not look like a hang).
    public init(
        location: GitHubLocation, engine: TransferEngine, token: GitHubToken?, cache: ValidatorCache,
        retryPolicy: RetryPolicy = RetryPolicy(), maxWait: Double = 60,
        notice: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.location = location
        self.engine = engine
        self.token = token
        self.cache = cache
        self.retryPolicy = retryPolicy
        self.maxWait = maxWait
        self.notice = notice
    }

    /// Where retries and waits are announced.
    let notice: @Sendable (String) -> Void

    /// Counts a retry and announces it; for `perform(retrying:onRetry:)`.
    func announceRetry(_ delay: Double, _ reason: String) {
        stats.withLock { $0.retries += 1 }
        notice(String(format: "retrying in %.1f s: ", delay) + reason)
    }

    /// The hosts that may receive the token: exactly the API and raw hosts.
    public static func credentialHosts(for location: GitHubLocation) -> Set<String> {
        Set([URLPath.authority(of: location.apiURL), URLPath.authority(of: location.rawURL)].compactMap { $0 })
    }

    // MARK: - Resolve

    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        // Without a ref, `HEAD` names the default branch: one request instead of asking for the branch name first.
        let name = ref ?? "HEAD"
        guard !name.isEmpty, !name.contains(".."), !name.hasPrefix("/"), !name.contains("\0") else {
            throw SmartSyncError(.invalidArgument, "'\(name)' is not a valid ref; give a branch, tag or commit SHA")
        }
        // One request resolves any ref kind (branch, tag peeled to its commit, full or short SHA).
        let url = location.repoAPI + "/commits/" + URLPath.encodePath(TreePath(name))
        let body = try await apiGet(
            url, accept: "application/vnd.github.sha",
            subject: "ref '\(name)' of repository '\(location.slug)'",
            onNotFound: { try await self.explainMissing(ref: name) },
            immutable: ObjectID(hex: name) != nil)
        let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let commit = ObjectID(hex: text) else {
            throw SmartSyncError(
                .malformedResponse,
                "GET \(url) did not answer with a commit SHA (got '\(text.prefix(60))'); check --api-url")
        }
        return ResolvedRef(name: name, commit: commit)
    }

    /// Tells "no such repository" from "no such ref" after a 404.
    private func explainMissing(ref: String) async throws -> SmartSyncError {
        let url = location.repoAPI
        let response = try await send(url, accept: "application/vnd.github+json", conditional: nil)
        if response.status == 200 {
            return SmartSyncError(
                .notFound,
                "ref '\(ref)' was not found in repository '\(location.slug)' (HTTP 404/422 from \(url)/commits/…); check the branch, tag or SHA"
            )
        }
        return GitHubJSON.error(
            for: response, endpoint: "GET " + url, subject: "repository '\(location.slug)'", authenticated: token != nil
        )
    }

    // MARK: - Requests

    /// A conditional GET of a metadata URL; returns the (possibly cached) body of a 200 or 304.
    func apiGet(
        _ url: String, accept: String, subject: String,
        onNotFound: (() async throws -> SmartSyncError)? = nil, immutable: Bool = false
    ) async throws -> [UInt8] {
        let key = "GET \(url) \(accept) \(token == nil ? "anonymous" : "token")"
        let cached = cache.entry(for: key)
        if immutable, let cached { return cached.body }
        let response = try await send(url, accept: accept, conditional: cached?.etag)
        switch response.status {
        case 304 where cached != nil:
            stats.withLock { $0.notModified += 1 }
            return cached!.body
        case 200..<300:
            if let etag = response.headers["etag"] { cache.store(.init(etag: etag, body: response.body), for: key) }
            return response.body
        case 404, 422:
            if let onNotFound { throw try await onNotFound() }
            fallthrough
        default:
            throw GitHubJSON.error(for: response, endpoint: "GET " + url, subject: subject, authenticated: token != nil)
        }
    }

    func send(_ url: String, accept: String, conditional etag: String?) async throws -> TransferResponse {
        var headers = [HTTPHeader("Accept", accept), HTTPHeader("X-GitHub-Api-Version", "2022-11-28")]
        if let etag { headers.append(HTTPHeader("If-None-Match", etag)) }
        let request = TransferRequest(url: url, headers: headers, authorization: token?.authorizationHeader)
        return try await apiRequest(request, conditional: etag != nil)
    }

    public func close() {}
}
