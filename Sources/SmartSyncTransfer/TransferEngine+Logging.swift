import Logging
import SmartSyncCore

extension TransferEngine {
    /// Logs one finished hop: `GET https://host/path → 304` with its facts as metadata.
    func log(
        _ request: TransferRequest, url: RequestURL, method: TransferRequest.Method, hop: Int,
        response: TransferResponse
    ) {
        let logger = configuration.logger
        guard logger.logLevel <= .debug else { return }
        var metadata = Self.metadata(request, hop: hop)
        metadata["status"] = "\(response.status)"
        metadata["bytes"] = "\(response.bytesReceived)"
        metadata["ms"] = Logger.milliseconds(response.totalTime)
        metadata["http"] = "\(response.httpVersion)"
        metadata["connection"] = response.newConnections > 0 ? "new" : "reused"
        if let remaining = response.headers["x-ratelimit-remaining"] { metadata["rateLimitRemaining"] = "\(remaining)" }
        logger.debug(
            "\(Self.name(of: method)) \(url.loggable) → \(response.status)", metadata: metadata,
            source: "SmartSyncTransfer")
        guard logger.logLevel <= .trace else { return }
        // `-vv`: the response headers that explain a decision, by name; never a cookie, and a redirect's target as
        // any URL is logged (its query may hold a signed token).
        var headers: Logger.Metadata = [:]
        for name in Self.tracedHeaders {
            guard let value = response.headers[name] else { continue }
            if name == "location" {
                headers[name] = "\((try? RequestURL(resolving: value, against: url))?.loggable ?? "(not a URL)")"
            } else {
                headers[name] = "\(EscapedText.excerpt(value))"
            }
        }
        logger.trace("response headers", metadata: headers, source: "SmartSyncTransfer")
    }

    /// Logs what a throttling answer did to its host: every new request to it waits, fewer run at once.
    func logThrottle(_ throttle: HostThrottle, request: TransferRequest) {
        let logger = configuration.logger
        guard logger.logLevel <= .debug else { return }
        var metadata: Logger.Metadata = [
            "host": "\(throttle.host)", "pauseMs": Logger.milliseconds(throttle.pause),
            "hostLimit": "\(throttle.limit)",
        ]
        if let kind = request.hostKind { metadata["kind"] = "\(kind)" }
        let pause = (throttle.pause * 10).rounded() / 10
        let what = "\(throttle.host) answered \(throttle.status): new requests to it wait \(pause) s"
        logger.debug(
            "\(what), at most \(throttle.limit) at once",
            metadata: metadata, source: "SmartSyncTransfer")
    }

    /// The response headers `-vv` shows.
    static let tracedHeaders = [
        "content-type", "content-length", "content-range", "etag", "last-modified", "retry-after", "location",
        "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-resource",
    ]

    /// Logs a hop that ended without a response (connection refused, stall, cancellation, a sink's refusal).
    func logFailure(
        _ request: TransferRequest, url: RequestURL, method: TransferRequest.Method, hop: Int, error: any Error,
        since started: ContinuousClock.Instant
    ) {
        let logger = configuration.logger
        guard logger.logLevel <= .debug else { return }
        var metadata = Self.metadata(request, hop: hop)
        metadata["ms"] = Logger.milliseconds(started.duration(to: .now))
        let reason: String
        if let error = error as? SmartSyncError {
            metadata["error"] = "\(error.code)"
            reason = error.message
        } else {
            reason = "\(error)"
        }
        logger.debug(
            "\(Self.name(of: method)) \(url.loggable) failed: \(reason)", metadata: metadata,
            source: "SmartSyncTransfer")
    }

    /// The request's facts that do not depend on the outcome: kind of host, conditional, resume, retry, redirect.
    private static func metadata(_ request: TransferRequest, hop: Int) -> Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        if let kind = request.hostKind { metadata["kind"] = "\(kind)" }
        for header in request.headers {
            switch header.name.lowercased() {
            case "if-none-match", "if-modified-since": metadata["conditional"] = "yes"
            // The offset only: an `If-Range` validator says nothing an operator needs.
            case "range": metadata["resume"] = "\(header.value)"
            default: break
            }
        }
        if request.attempt > 0 { metadata["retry"] = "\(request.attempt)" }
        if hop > 0 { metadata["redirect"] = "\(hop)" }
        return metadata
    }

    private static func name(of method: TransferRequest.Method) -> String {
        switch method {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        }
    }
}

extension RequestURL {
    /// Query parameter names (lower-case parts) whose values are hidden in logs: a signed mirror URL's signature or an
    /// access token given as a parameter is a credential.
    static let secretParameterParts = ["token", "sig", "key", "secret", "password", "auth", "credential"]

    /// The URL for a log line: never user information (``string`` has none), and the values of query parameters that
    /// look like credentials replaced by `REDACTED`.
    public var loggable: String {
        guard let question = string.firstIndex(of: "?") else { return string }
        let query = string[string.index(after: question)...]
        let fragmentStart = query.firstIndex(of: "#") ?? query.endIndex
        let parameters = query[..<fragmentStart].split(separator: "&", omittingEmptySubsequences: false).map {
            parameter -> String in
            guard let equals = parameter.firstIndex(of: "=") else { return String(parameter) }
            let name = parameter[..<equals].lowercased()
            guard Self.secretParameterParts.contains(where: { name.contains($0) }) else { return String(parameter) }
            return parameter[..<equals] + "=REDACTED"
        }
        return string[...question] + parameters.joined(separator: "&") + query[fragmentStart...]
    }
}
