import CCurl
import SmartSyncCore

/// Runs HTTP transfers concurrently on one libcurl multi handle owned by a dedicated thread.
///
/// One engine keeps one connection cache: requests to an HTTP/2 host multiplex onto one connection, HTTP/1.1
/// connections are kept alive and reused. At most ``TransferConfiguration/maxConcurrent`` transfers run at once,
/// and at most ``TransferConfiguration/maxPerHost`` per host; the rest wait in a FIFO queue.
///
/// Redirects are followed by the engine (not by curl), so the `Authorization` header is decided afresh for each
/// hop: it is sent only to hosts in ``TransferConfiguration/credentialHosts`` and never after an https→http
/// downgrade.
///
/// With ``TransferConfiguration/limitRate``, one token bucket paces all transfers together: a transfer that finds
/// it empty is paused (`CURL_WRITEFUNC_PAUSE`) and unpaused in turn as the budget refills. A transfer that makes
/// less than ``TransferConfiguration/stallSpeed`` bytes/s of progress for ``TransferConfiguration/stallTimeout``
/// seconds, or whose payload, once it flows, comes slower than ``TransferConfiguration/minSpeed`` over that window,
/// fails with a retryable `.network` error; one that runs longer than ``TransferConfiguration/requestTimeout`` fails
/// with `.limitExceeded` (time paused by the limiter counts for none of these). Body bytes over all transfers are
/// held to ``TransferConfiguration/maxDownload`` (`.limitExceeded`).
///
/// Each hop is logged to ``TransferConfiguration/logger`` at `.debug` once it is done, by the awaiting task (the
/// engine's thread never logs): method, URL (no user information, secret-looking query values hidden), status, bytes,
/// time, the host's kind, and whether it was conditional, a resume, a retry or a redirect. Headers are never logged.
///
/// Call ``shutdown()`` when done: it fails queued and running transfers with `.cancelled`.
public final class TransferEngine: Sendable {
    /// Redirect hops followed before giving up.
    public static let maxRedirects = 5

    /// The settings the engine was made with.
    public let configuration: TransferConfiguration
    private let loop: CurlMultiLoop
    /// ``TransferConfiguration/credentialHosts``, lower-cased.
    private let credentialHosts: Set<String>

    /// Creates an engine and starts its thread, which loads libcurl and makes its curl state beside the caller.
    ///
    /// - Throws: `.invalidArgument` for a bad configuration (caps below 1, unreadable `extraCAFile`). When libcurl
    ///   cannot be loaded or initialised, every ``perform(_:)`` throws that `.internal` error instead.
    public init(configuration: TransferConfiguration) throws {
        guard configuration.maxConcurrent >= 1 else {
            throw SmartSyncError(.invalidArgument, "--jobs must be at least 1 (got \(configuration.maxConcurrent))")
        }
        guard configuration.maxPerHost >= 1 else {
            throw SmartSyncError(
                .invalidArgument, "the per-host transfer limit must be at least 1 (got \(configuration.maxPerHost))")
        }
        guard configuration.connectTimeout > 0, configuration.connectTimeout.isFinite else {
            throw SmartSyncError(
                .invalidArgument, "the connect timeout must be positive (got \(configuration.connectTimeout))")
        }
        if let limitRate = configuration.limitRate, limitRate < 1 {
            throw SmartSyncError(
                .invalidArgument, "--limit-rate must be at least 1 byte per second (got \(limitRate))")
        }
        guard configuration.stallTimeout > 0, configuration.stallSpeed >= 0 else {
            throw SmartSyncError(
                .invalidArgument,
                "--stall-timeout must be positive (got \(configuration.stallTimeout)) and the stall speed at least 0 "
                    + "(got \(configuration.stallSpeed))")
        }
        guard configuration.minSpeed >= 0, configuration.requestTimeout > 0 else {
            throw SmartSyncError(
                .invalidArgument,
                "--min-speed must be at least 0 (got \(configuration.minSpeed)) and --request-timeout positive "
                    + "(got \(configuration.requestTimeout))")
        }
        if let rate = configuration.maxRequestsPerHost, !(rate > 0 && rate.isFinite) {
            throw SmartSyncError(
                .invalidArgument, "--max-rate-per-host must be a positive number of requests per second (got \(rate))")
        }
        if let maxDownload = configuration.maxDownload, maxDownload < 1 {
            throw SmartSyncError(.invalidArgument, "--max-download must be at least 1 byte (got \(maxDownload))")
        }
        // Checked here, where a bad --cacert is a bad argument; read again by the engine thread's setup.
        if let extraCAFile = configuration.extraCAFile { _ = try CABundle.check(extraCAFile: extraCAFile) }
        self.configuration = configuration
        self.credentialHosts = Set(configuration.credentialHosts.map { $0.lowercased() })
        // libcurl's load (dlopen, curl_global_init), the trust store and the multi handle are made by the engine
        // thread, beside the caller's own work (a no-op's state load and scan): "libcurl loaded on demand" in
        // docs/ARCHITECTURE.md. A failure there fails every transfer with the error it threw here before.
        self.loop = CurlMultiLoop(
            setUp: {
                do { return try Self.makeCurlState(configuration) } catch { throw Self.localSetupFailure(error) }
            }, maxConcurrent: configuration.maxConcurrent,
            pacing: Pacing(
                limitRate: configuration.limitRate, stallTimeout: configuration.stallTimeout,
                stallSpeed: configuration.stallSpeed, minSpeed: configuration.minSpeed,
                requestTimeout: configuration.requestTimeout, maxDownload: configuration.maxDownload),
            pacer: HostPacer(
                policy: configuration.hostBackoff, maxPerHost: configuration.maxPerHost,
                requestRate: configuration.maxRequestsPerHost))
        loop.start()
    }

    /// Loads libcurl (once per process) and makes the multi handle and the easy handles' settings. Engine thread.
    static func makeCurlState(_ configuration: TransferConfiguration) throws
        -> (multi: UnsafeMutableRawPointer, settings: EasySettings)
    {
        try CurlLibrary.load()
        let trust = try TrustStore.make(
            extraCAFile: configuration.extraCAFile, directory: configuration.caDirectory)
        guard let multi = curl_multi_init() else {
            throw SmartSyncError(.internal, "libcurl could not create a multi handle (out of memory?)")
        }
        _ = ss_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        // Our own caps bound transfers per host; curl never needs more connections than that.
        _ = ss_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxPerHost)
        // Keep enough idle connections for every host we may be talking to.
        _ = ss_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(16, configuration.maxConcurrent))
        let settings = EasySettings(
            connectTimeoutMilliseconds: Int((configuration.connectTimeout * 1000).rounded(.up)),
            userAgent: configuration.userAgent,
            http2: configuration.http2,
            trust: trust)
        return (multi, settings)
    }

    /// `error`, thrown by the engine thread's setup, as every request then fails with it: with a cause that
    /// marks it local (``CurlLibrary/Unusable``), so that no source or transport that needs the same setup is tried
    /// next. libcurl's load sets that cause itself; this covers the others (no multi handle, `--cacert` unreadable
    /// when the engine thread reads it again).
    static func localSetupFailure(_ error: any Error) -> SmartSyncError {
        var failure =
            error as? SmartSyncError ?? SmartSyncError(.internal, "the transfer engine could not start: \(error)")
        if !(failure.cause is CurlLibrary.Unusable) {
            // The original cause stays inside, for whoever reads the chain.
            failure.cause = CurlLibrary.Unusable(reason: "the transfer engine's setup", underlying: failure.cause)
        }
        return failure
    }

    deinit {
        // No curl call here: the engine thread sees the flag within a second and cleans up on its own thread.
        loop.shutdown(wait: false)
    }

    /// Counters over the engine's lifetime (successful requests, one per redirect hop).
    public var statistics: TransferStatistics { loop.statistics }

    /// Stops the engine: queued and running transfers fail with `.cancelled`, later ones too. Waits for the
    /// engine thread to finish. Idempotent.
    public func shutdown() {
        loop.shutdown(wait: true)
    }

    /// Performs `request`, following redirects when asked.
    ///
    /// A `.stream` sink sees only the final 2xx response: `begin` once (even for an empty body), then the body.
    /// Redirect and error bodies are buffered into ``TransferResponse/body`` (up to 64 KiB).
    ///
    /// - Returns: the final response, whatever its HTTP status.
    /// - Throws: ``SmartSyncError`` for transport failures (`.network`, `.tls`), a bad request (`.invalidArgument`),
    ///   an oversized in-memory body (`.malformedResponse`), too many redirects (`.http`), or cancellation of the
    ///   calling task, a sink's refusal or ``shutdown()`` (`.cancelled`).
    public func perform(_ request: TransferRequest) async throws -> TransferResponse {
        var url = try RequestURL(request.url)
        var method = request.method
        let baseLines = try RequestHeaders.lines(for: request.headers)
        if let authorization = request.authorization {
            try RequestHeaders.validateCredential(authorization, url: url)
        }
        var mayCarryCredential = true
        var newConnections = 0
        var totalTime = 0.0
        var hops = 0
        while true {
            var lines = baseLines
            if let authorization = request.authorization, mayCarryCredential,
                credentialHosts.contains(url.hostKey)
            {
                lines.append("Authorization: \(authorization)")
            }
            let started = ContinuousClock.now
            var response: TransferResponse
            do {
                response = try await performHop(
                    HopRequest(url: url, method: method, headerLines: lines, sink: request.sink))
            } catch {
                logFailure(request, url: url, method: method, hop: hops, error: error, since: started)
                throw error
            }
            log(request, url: url, method: method, hop: hops, response: response)
            if let throttle = response.hostThrottle { logThrottle(throttle, request: request) }
            newConnections += response.newConnections
            totalTime += response.totalTime
            if request.followRedirects, let location = RequestHeaders.redirectLocation(of: response) {
                guard hops < TransferEngine.maxRedirects else {
                    throw SmartSyncError(
                        .http,
                        "too many redirects (more than \(TransferEngine.maxRedirects)) fetching "
                            + "\(RequestURL.redact(request.url)); the server may be misconfigured (redirect loop)")
                }
                hops += 1
                let next = try RequestURL(resolving: location, against: url)
                if url.scheme == "https", next.scheme == "http" { mayCarryCredential = false }
                switch (response.status, method) {
                case (303, .head): break
                case (303, _): method = .get
                case (301, .post), (302, .post): method = .get
                default: break
                }
                url = next
                continue
            }
            response.newConnections = newConnections
            response.totalTime = totalTime
            return response
        }
    }

    /// One request without redirects, cancelled with the calling task.
    private func performHop(_ hop: HopRequest) async throws -> TransferResponse {
        guard let id = loop.register() else {
            throw SmartSyncError.aborted(.shutdown, url: hop.url.string)
        }
        let transfer = EasyTransfer(id: id, hop: hop)
        let loop = self.loop
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<TransferResponse, any Error>) in
                transfer.continuation = continuation
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(id)
        }
    }
}
