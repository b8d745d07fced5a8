import FoundationEssentials
import SmartSyncCore
import SmartSyncTransfer
import Synchronization

/// A git smart-HTTP client speaking protocol v2 to `upload-pack`: the capability advertisement, `ls-refs`, and a
/// one-round `fetch` whose pack is spooled to a file as it arrives.
///
/// Every request carries `Git-Protocol: version=2`. The token, when given, goes as HTTP Basic with the token as
/// the password (what git hosts take), and only to hosts in the engine's
/// ``TransferConfiguration/credentialHosts``: the git host must be listed there. It never appears in a message.
public final class UploadPackClient: Sendable {
    /// What we call ourselves in `agent=` (sent only when the server advertises `agent`).
    public static let agent = "smart-sync/0.1.0"

    /// `{git-url}/{owner}/{repo}.git`, no trailing slash.
    public let repositoryURL: String
    let engine: TransferEngine
    /// The `Authorization` value for the git host; never put in a message.
    private let authorization: String?
    let retryPolicy: RetryPolicy
    let notice: @Sendable (String) -> Void
    private let cachedCapabilities = Mutex<UploadPackCapabilities?>(nil)
    private let stats = Mutex(UploadPackStatistics())

    /// - Parameters:
    ///   - repositoryURL: `{git-url}/{owner}/{repo}.git` (a trailing slash is dropped).
    ///   - cachedCapabilities: an advertisement kept from an earlier run: ``capabilities()`` then asks nothing.
    ///   - authorization: the `Authorization` value for the repository's host (HTTP Basic with the token as password:
    ///     `GitHubToken.basicAuthorizationForGit`); the engine never sends it to another host.
    ///   - notice: told about retries and the server's progress messages.
    public init(
        repositoryURL: String, engine: TransferEngine, authorization: String?, retryPolicy: RetryPolicy = RetryPolicy(),
        cachedCapabilities: UploadPackCapabilities? = nil, notice: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        var url = repositoryURL
        while url.hasSuffix("/") { url.removeLast() }
        self.repositoryURL = url
        self.engine = engine
        self.authorization = authorization
        self.retryPolicy = retryPolicy
        self.notice = notice
        self.cachedCapabilities.withLock { $0 = cachedCapabilities }
    }

    /// Counters over this client's requests.
    public var statistics: UploadPackStatistics { stats.withLock { $0 } }

    var uploadPackURL: String { repositoryURL + "/git-upload-pack" }

    /// The server's protocol v2 capabilities: asked once per client (`GET {repo}/info/refs?service=git-upload-pack`),
    /// or taken from `cachedCapabilities`.
    ///
    /// - Throws: `.sourceUnavailable` when the server does not speak protocol v2 (a v0/v1 advertisement, a dumb
    ///   HTTP server, or a body that is no advertisement at all): the caller falls back to another path;
    ///   `.unauthorized`, `.notFound`, `.http` for refusals; `.network` after retries.
    public func capabilities() async throws -> UploadPackCapabilities {
        if let known = cachedCapabilities.withLock({ $0 }) { return known }
        let url = repositoryURL + "/info/refs?service=git-upload-pack"
        let response: TransferResponse
        do {
            response = try await engine.perform(retrying: retryPolicy, onRetry: announceRetry) { _ in
                TransferRequest(
                    url: url, headers: [HTTPHeader("Git-Protocol", "version=2")], authorization: authorization,
                    sink: .memory(limit: 1 << 20), hostKind: "git")
            }
        } catch let error as SmartSyncError where error.code == .malformedResponse {
            throw SmartSyncError(
                .sourceUnavailable,
                "\(url) sent an advertisement over 1 MiB (a protocol v2 one is a few hundred bytes): the server does "
                    + "not speak git protocol v2", cause: ProtocolUnsupported(url: repositoryURL))
        }
        count(response, sent: 0)
        try Self.check(response, url: url, method: "GET")
        let type = response.headers["content-type"] ?? ""
        guard type.hasPrefix("application/x-git-upload-pack-advertisement") else {
            throw SmartSyncError(
                .sourceUnavailable,
                "\(url) answered with Content-Type '\(EscapedText.excerpt(type))', not "
                    + "application/x-git-upload-pack-advertisement: the server does not speak git's smart HTTP "
                    + "protocol v2",
                cause: ProtocolUnsupported(url: repositoryURL))
        }
        let capabilities = try UploadPackCapabilities.parse(advertisement: response.body, url: url)
        cachedCapabilities.withLock { $0 = capabilities }
        return capabilities
    }

    /// Lists refs (`command=ls-refs` with `peel` and `symrefs`), limited to names starting with one of `prefixes`
    /// (all refs when empty). `HEAD` is listed when a prefix matches it (e.g. `"HEAD"`).
    public func lsRefs(prefixes: [String]) async throws -> [RemoteRef] {
        let capabilities = try await capabilities()
        try capabilities.check(command: "ls-refs", url: uploadPackURL)
        var arguments = ["peel", "symrefs"]
        arguments += prefixes.map { "ref-prefix \($0)" }
        let body = capabilities.commandRequest("ls-refs", arguments: arguments, agent: Self.agent)
        let response = try await engine.perform(retrying: retryPolicy, onRetry: announceRetry) { _ in
            commandRequest(body: body, sink: .memory(limit: 64 << 20))
        }
        count(response, sent: body.count)
        try Self.check(response, url: uploadPackURL, method: "POST")
        return try Self.parseRefs(response.body, url: uploadPackURL)
    }

    /// Fetches a pack in one round (`command=fetch` ending with `done`: no negotiation) and spools it to `path`.
    ///
    /// The `packfile` section's side-band channel 1 is written to `path` (created or truncated) as it arrives;
    /// channel 2 (progress) goes to `notice`; channel 3 and `ERR` packets fail with the server's message. If the
    /// transfer breaks mid-pack, the bytes so far stay in `path` and the error is thrown, so the caller can salvage
    /// the complete objects. Failures are retried only while nothing of the pack has arrived.
    ///
    /// A response larger than `limit`, or going on after its final flush packet, is refused (`.malformedResponse`)
    /// as soon as it does.
    ///
    /// - Parameters:
    ///   - packProgress: told the pack's size in the spool each time it grows (on the engine's thread), so an import
    ///     can run while the pack arrives.
    ///   - limit: the most response bytes the request can explain, if it gives a bound.
    public func fetch(
        _ request: PackRequest, spoolTo path: String, packProgress: (@Sendable (Int) -> Void)? = nil,
        limit: ResponseLimit? = nil
    ) async throws -> PackResponse {
        let capabilities = try await capabilities()
        try capabilities.check(command: "fetch", url: uploadPackURL)
        let arguments = try request.arguments(capabilities: capabilities, url: uploadPackURL)
        let body = capabilities.commandRequest("fetch", arguments: arguments, agent: Self.agent)
        var attempt = 0
        while true {
            let sink = try PackSpoolSink(
                path: path, url: uploadPackURL, notice: notice, packProgress: packProgress, limit: limit)
            let response: TransferResponse
            do {
                var request = commandRequest(body: body, sink: .stream(sink))
                request.attempt = attempt
                response = try await engine.perform(request)
            } catch let error as SmartSyncError {
                stats.withLock {
                    $0.requests += 1
                    $0.bytesSent += body.count
                    $0.bytesReceived += sink.response.responseBytes
                }
                if let failure = sink.failure { throw failure }
                let packBytes = sink.response.packBytes
                if packBytes > 0 && error.code != .limitExceeded {
                    throw SmartSyncError(
                        error.code,
                        "the pack from \(uploadPackURL) broke off after \(packBytes) bytes (kept in \(path)): "
                            + error.message, hint: error.hint, cause: error)
                }
                guard RetryPolicy.isRetryable(error), attempt < retryPolicy.retries else { throw error }
                try await pause(retryPolicy.backoff(attempt: attempt), error.message)
                attempt += 1
                continue
            }
            count(response, sent: body.count)
            let asked = RetryPolicy.retryAfter(response.headers["retry-after"])
            guard RetryPolicy.isRetryable(response), attempt < retryPolicy.retries,
                RetryPolicy.mayWait(asked ?? 0, within: retryPolicy.maxRetryAfter)
            else {
                try Self.check(response, url: uploadPackURL, method: "POST")
                try sink.finish()
                var result = sink.response
                result.requestBytes = body.count
                return result
            }
            try await pause(
                asked ?? retryPolicy.backoff(attempt: attempt), "HTTP \(response.status) from \(uploadPackURL)")
            attempt += 1
        }
    }

    // MARK: Plumbing

    private func commandRequest(body: [UInt8], sink: BodySink) -> TransferRequest {
        TransferRequest(
            url: uploadPackURL, method: .post(body: body),
            headers: [
                HTTPHeader("Git-Protocol", "version=2"),
                HTTPHeader("Content-Type", "application/x-git-upload-pack-request"),
                HTTPHeader("Accept", "application/x-git-upload-pack-result"),
            ],
            authorization: authorization, sink: sink, hostKind: "git")
    }

    private func pause(_ delay: Double, _ reason: String) async throws {
        announceRetry(delay, reason)
        try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
    }

    private func announceRetry(_ delay: Double, _ reason: String) {
        notice("retrying in \(delay.fixed(1)) s: " + reason)
    }

    private func count(_ response: TransferResponse, sent: Int) {
        stats.withLock {
            $0.requests += 1
            $0.bytesSent += sent
            $0.bytesReceived += response.bytesReceived
            $0.newConnections += response.newConnections
        }
    }

    /// Throws for a non-2xx response, quoting the status and the start of the body.
    static func check(_ response: TransferResponse, url: String, method: String) throws {
        guard !(200..<300).contains(response.status) else { return }
        let text = response.body.serverMessage
        let quoted = text.isEmpty ? "" : ": \(text)"
        switch response.status {
        case 401, 403:
            throw SmartSyncError(
                .unauthorized,
                "\(method) \(url) answered HTTP \(response.status)\(quoted)",
                hint: "check the token (GH_TOKEN) and that it may read this repository")
        case 404:
            throw SmartSyncError(
                .notFound, "\(method) \(url) answered HTTP 404\(quoted)",
                hint: "check the repository name and the git URL")
        default:
            throw SmartSyncError(
                .http, "\(method) \(url) answered HTTP \(response.status)\(quoted)", httpStatus: response.status)
        }
    }

    /// Parses an `ls-refs` response body: one ref per data packet, then a flush.
    static func parseRefs(_ body: [UInt8], url: String) throws -> [RemoteRef] {
        var refs: [RemoteRef] = []
        var ended = false
        var decoder = PktLineDecoder()
        try body.withUnsafeBytes { raw in
            try decoder.feed(raw) { packet in
                guard !ended else { return }
                switch packet {
                case .data(let payload):
                    if payload.starts(with: "ERR ".utf8) {
                        let message = payload[4...].serverMessage
                        throw SmartSyncError(.sourceUnavailable, "\(url) refused ls-refs: \(message)")
                    }
                    if let ref = try RemoteRef.parse(payload.pktLine, url: url) { refs.append(ref) }
                case .flush, .responseEnd: ended = true
                case .delim:
                    throw SmartSyncError(.malformedResponse, "ls-refs from \(url) sent an unexpected delimiter")
                }
            }
        }
        guard ended else {
            throw SmartSyncError(.malformedResponse, "the ls-refs response from \(url) is cut short (no flush)")
        }
        return refs
    }
}
