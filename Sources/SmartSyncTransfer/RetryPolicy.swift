import FoundationEssentials
import Glibc
import Logging
import SmartSyncCore

/// When and how long to wait before asking again: exponential backoff with full jitter, capped, honouring
/// the server's `Retry-After`.
public struct RetryPolicy: Sendable {
    /// Attempts after the first (`--retries`). 0 disables retrying.
    public var retries: Int
    /// The first backoff ceiling, in seconds; doubles each attempt.
    public var baseDelay: Double
    /// The largest backoff ceiling, in seconds.
    public var maxDelay: Double
    /// The longest `Retry-After` the policy will sleep through; longer ones fail the request instead.
    public var maxRetryAfter: Double

    public init(retries: Int = 4, baseDelay: Double = 0.5, maxDelay: Double = 30, maxRetryAfter: Double = 60) {
        self.retries = retries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// Never retries.
    public static let none = RetryPolicy(retries: 0)

    /// "Full jitter": a uniformly random delay in `0 ... min(maxDelay, baseDelay * 2^attempt)`.
    public func backoff(attempt: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(min(attempt, 30))))
        return ceiling * random
    }

    /// Whether an HTTP status is worth asking again: 408, 429, 500, 502, 503, 504.
    public static func isRetryable(status: Int) -> Bool {
        [408, 429, 500, 502, 503, 504].contains(status)
    }

    /// Whether a response is worth asking again: a retryable status (see ``isRetryable(status:)``), or a `403`
    /// carrying `Retry-After` (the shape of GitHub's secondary rate limits).
    public static func isRetryable(_ response: TransferResponse) -> Bool {
        if isRetryable(status: response.status) { return true }
        return response.status == 403 && response.headers["retry-after"] != nil
    }

    /// Whether a transfer failure is worth asking again: broken or refused connections, timeouts and stalls
    /// (code `.network`), never TLS, bad arguments or cancellation.
    public static func isRetryable(_ error: SmartSyncError) -> Bool {
        error.code == .network
    }

    /// The longest delay a header from the network is read as, in seconds (about 31 years): a `Retry-After` or a
    /// rate-limit reset further away (`1e20`, `inf`) is read as this, so every delay stays finite and converts to
    /// `Int` seconds or `UInt64` nanoseconds without trapping; it is longer than any ``maxRetryAfter`` meant for a
    /// wait (`--max-wait`), so such an answer still fails the request with the rate-limit error.
    public static let longestDelay: Double = 1_000_000_000

    /// Whether a delay the server asked for may be slept through under the limit `limit` (`--max-wait`): within it,
    /// and short of ``longestDelay``. A header clamped to ``longestDelay`` asked for more than any wait meant here,
    /// so it fails at once whatever the limit (`--max-wait 1e9` would otherwise sleep 31 years).
    public static func mayWait(_ delay: Double, within limit: Double) -> Bool {
        delay <= limit && delay < longestDelay
    }

    /// `seconds` (from a header) within `0 ... longestDelay`; NaN reads as 0.
    public static func clampedDelay(_ seconds: Double) -> Double {
        seconds.isNaN ? 0 : min(max(0, seconds), longestDelay)
    }

    /// The delay a `Retry-After` header asks for (delta-seconds or an HTTP-date in any of the three forms a recipient
    /// must read, RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime), relative to `now`; within
    /// `0 ... longestDelay` (see ``clampedDelay(_:)``).
    public static func retryAfter(_ value: String?, now: Date = Date()) -> Double? {
        guard let value = value?.trimmed(newlines: false), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return clampedDelay(seconds) }
        if let date = HTTPDate.parse(value, now: now) { return clampedDelay(date.timeIntervalSince(now)) }
        return nil
    }
}

/// What one attempt of a retried request is told.
public struct RetryAttempt: Sendable {
    /// 0 for the first attempt.
    public var number: Int
    /// The previous attempt's failure, if any (for logs and for resuming).
    public var previousFailure: String?
}

extension TransferEngine {
    /// Performs a request, asking again on retryable failures (see ``RetryPolicy``).
    ///
    /// `makeRequest` builds each attempt afresh, so a resumable download can ask for the bytes it still lacks
    /// (`Range`) and give a fresh sink. Waits honour `Retry-After`; a failure that is not retryable, or the
    /// last one, is returned (HTTP status) or thrown (transport error) as is. Waiting sleeps only this task:
    /// transfers to other hosts go on.
    ///
    /// - Parameters:
    ///   - retryable: which responses to ask again (default ``RetryPolicy/isRetryable(_:)``); a caller that
    ///     handles some statuses itself (e.g. waiting for a rate-limit reset) narrows it.
    ///   - onRetry: told before each wait, with the delay and the reason (for progress output).
    public func perform(
        retrying policy: RetryPolicy,
        retryable: (TransferResponse) -> Bool = RetryPolicy.isRetryable,
        onRetry: @Sendable (_ delay: Double, _ reason: String) -> Void = { _, _ in },
        _ makeRequest: (RetryAttempt) throws -> TransferRequest
    ) async throws -> TransferResponse {
        var attempt = RetryAttempt(number: 0, previousFailure: nil)
        while true {
            var request = try makeRequest(attempt)
            request.attempt = attempt.number
            let delay: Double
            let reason: String
            do {
                let response = try await perform(request)
                guard retryable(response), attempt.number < policy.retries else {
                    return response
                }
                let asked = RetryPolicy.retryAfter(response.headers["retry-after"])
                if let asked, !RetryPolicy.mayWait(asked, within: policy.maxRetryAfter) { return response }
                delay = asked ?? policy.backoff(attempt: attempt.number)
                reason = "HTTP \(response.status) from \(RequestURL.redact(request.url))"
            } catch let error as SmartSyncError where RetryPolicy.isRetryable(error) && attempt.number < policy.retries
            {
                delay = policy.backoff(attempt: attempt.number)
                reason = error.message
            }
            configuration.logger.debug(
                "retry \(attempt.number + 1) of \(policy.retries) in \(delay.fixed(1)) s: \(reason)",
                metadata: ["kind": request.hostKind.map { "\($0)" } ?? "-", "delayMs": Logger.milliseconds(delay)],
                source: "SmartSyncTransfer")
            onRetry(delay, reason)
            try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
            attempt = RetryAttempt(number: attempt.number + 1, previousFailure: reason)
        }
    }
}
