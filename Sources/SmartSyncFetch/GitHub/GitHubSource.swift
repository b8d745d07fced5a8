import FoundationEssentials
import Logging
import SmartSyncCore
import SmartSyncObjectStore
import SmartSyncTransfer
import Synchronization

/// Where a GitHub repository lives and how to reach it.
public struct GitHubLocation: Sendable {
    public var owner: String
    public var repository: String
    /// REST API root: `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise.
    public var apiURL: String
    /// Raw content root (`https://raw.githubusercontent.com` for github.com), or nil: blobs come from the API's
    /// blobs endpoint (GitHub Enterprise without `--raw-url`).
    public var rawURL: String?

    /// - Parameter rawURL: the raw content root the operator named (`--raw-url`); nil: ``defaultRawURL(apiURL:)``.
    public init(
        owner: String, repository: String, apiURL: String = "https://api.github.com", rawURL: String? = nil
    ) {
        self.owner = owner
        self.repository = repository
        self.apiURL = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
        self.rawURL = (rawURL ?? Self.defaultRawURL(apiURL: self.apiURL)).map {
            $0.hasSuffix("/") ? String($0.dropLast()) : $0
        }
    }

    /// GitHub's own raw host for github.com's API; none for any other (GitHub Enterprise serves raw content on paths
    /// or subdomains that depend on its setup, and its repositories must not be asked for at github.com's raw host).
    public static func defaultRawURL(apiURL: String) -> String? {
        URLAuthority.hostKey(of: apiURL) == "api.github.com" ? "https://raw.githubusercontent.com" : nil
    }

    /// The hosts (`host[:port]`) that may receive the token, decided per request and per redirect hop by the engine:
    ///
    /// - the API host (`--api-url`);
    /// - the raw host: `raw.githubusercontent.com` with github.com's API, or the `--raw-url` the operator gave;
    ///   none for GitHub Enterprise without `--raw-url`;
    /// - the git host (`--git-url`, or its default: github.com or the Enterprise host), when given: the pack
    ///   transport's requests go through the engine.
    ///
    /// A redirect to any other host loses the `Authorization` header, as does one from https to http.
    public func credentialHosts(gitURL: String?) -> Set<String> {
        Set([apiURL, rawURL, gitURL].compactMap { $0.flatMap(URLAuthority.hostKey(of:)) })
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
                "'\(slug)' is not a repository name", hint: "write it as OWNER/REPO, e.g. MasterofNull/Hyper-NixOS")
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
/// costs a `304`, which GitHub does not count against the rate limit when the request carries a token (a tokenless
/// run pays one of its 60 an hour per `304`). API requests are paced (``RequestGate``),
/// retried on transient failures, and wait for an exhausted rate limit to reset when that is within `maxWait`.
/// Blob downloads resume from what earlier attempts and runs kept (``PartialObject``).
public final class GitHubSource: SyncSource {
    public let location: GitHubLocation
    let engine: TransferEngine
    let token: GitHubToken?
    let cache: ValidatorCache
    let stats = Mutex(SourceStatistics())
    /// Paces API requests: a token bucket and at most 4 in flight (GitHub's secondary limits).
    let apiGate = RequestGate(rate: 10, burst: 20, maxConcurrent: 4)
    /// The latest rate-limit headers the API sent.
    let rateLimit = Mutex<RateLimitState?>(nil)

    public var displayName: String { "github:" + location.slug }
    public var transport: String { "raw" }
    public var statistics: SourceStatistics { stats.withLock { $0 } }

    /// How failed requests are retried (`--retries`).
    let retryPolicy: RetryPolicy
    /// The longest wait for an exhausted rate limit to reset before giving up (`--max-wait`), in seconds.
    let maxWait: Double
    /// What the run may still add to the store (`--max-download`), shared with the pack transport; nil: no limit.
    let storeBudget: ByteBudget?

    /// - Parameters:
    ///   - engine: the transfer engine (its `credentialHosts` must contain the API and raw hosts for the token to be
    ///     sent: ``GitHubLocation/credentialHosts(gitURL:)``).
    ///   - cache: validator cache for conditional requests.
    ///   - retryPolicy: how failed requests are retried.
    ///   - maxWait: the longest wait, in seconds, for an exhausted rate limit to reset.
    ///   - storeBudget: what the run may add to the store, shared with the pack transport (`--max-download`).
    ///   - notice: told of each retry and wait (a slow link should not look like a hang).
    ///   - logger: told at `.debug` where each answer came from (the validator cache, a `304`, the network).
    public init(
        location: GitHubLocation, engine: TransferEngine, token: GitHubToken?, cache: ValidatorCache,
        retryPolicy: RetryPolicy = RetryPolicy(), maxWait: Double = 60, storeBudget: ByteBudget? = nil,
        notice: @escaping @Sendable (String) -> Void = { _ in }, logger: Logger = .disabled
    ) {
        self.logger = logger
        self.location = location
        self.engine = engine
        self.token = token
        self.cache = cache
        self.retryPolicy = retryPolicy
        self.maxWait = maxWait
        self.storeBudget = storeBudget
        self.notice = notice
    }

    /// Where retries and waits are announced.
    let notice: @Sendable (String) -> Void
    /// Where the source's decisions go.
    let logger: Logger

    /// Counts a retry and announces it; for `perform(retrying:onRetry:)`.
    func announceRetry(_ delay: Double, _ reason: String) {
        stats.withLock { $0.retries += 1 }
        notice("retrying in \(delay.fixed(1)) s: " + reason)
    }

    // MARK: - Requests

    /// A conditional GET of a metadata URL; returns the (possibly cached) body of a 200 or 304.
    func apiGet(
        _ url: String, accept: String, subject: String,
        onNotFound: (() async throws -> SmartSyncError)? = nil, immutable: Bool = false
    ) async throws -> [UInt8] {
        let key = "GET \(url) \(accept) \(token == nil ? "anonymous" : "token")"
        let cached = cache.entry(for: key)
        if immutable, let cached {
            logger.debug("\(subject): from the validator cache, no request (immutable)", metadata: ["cache": "hit"])
            return cached.body
        }
        let response = try await send(url, accept: accept, conditional: cached?.etag)
        switch response.status {
        case 304 where cached != nil:
            stats.withLock { $0.notModified += 1 }
            logger.debug("\(subject): unchanged (304), the cached answer stands", metadata: ["cache": "revalidated"])
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
        let request = TransferRequest(
            url: url, headers: headers, authorization: token?.authorizationHeader, hostKind: "api")
        return try await apiRequest(request, conditional: etag != nil)
    }

    public func close() {}
}
