/// How the engine slows a whole host down when it answers "too many requests"
/// (see ``TransferConfiguration/hostBackoff``).
///
/// A `429`, a `503`, or a `403` carrying `Retry-After` (GitHub's secondary rate limits) is a host speaking for every
/// request, not for one: so the engine holds back **every** new request to that host (redirect hops and retries
/// included) until the time the answer asks for (`Retry-After`, up to ``maxPause``), else a jittered backoff; and it
/// halves how many requests it lets run at once to that host (never below 1), giving one slot back for each round of
/// that many successes. Requests in flight are left to finish.
public struct HostBackoffPolicy: Sendable, Equatable {
    /// Whether throttling answers slow the host at all; false: only the request that got one waits (its retry).
    public var enabled: Bool
    /// The first backoff ceiling without `Retry-After`, in seconds; doubles with each throttle in a row.
    public var baseDelay: Double
    /// The largest backoff ceiling without `Retry-After`, in seconds.
    public var maxDelay: Double
    /// The longest a host is held back, whatever `Retry-After` asks (`--max-wait`): a request asked to wait longer
    /// fails (``RetryPolicy/maxRetryAfter``), and the others should not wait for ever either.
    public var maxPause: Double

    public init(enabled: Bool = true, baseDelay: Double = 0.5, maxDelay: Double = 30, maxPause: Double = 60) {
        self.enabled = enabled
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxPause = maxPause
    }

    /// Never slows a host.
    public static let off = HostBackoffPolicy(enabled: false)

    /// Whether a response tells the host's clients to slow down: `429`, `503`, or `403` with `Retry-After`.
    public static func isThrottle(_ response: TransferResponse) -> Bool {
        isThrottle(status: response.status, headers: response.headers)
    }

    static func isThrottle(status: Int, headers: HTTPHeaders) -> Bool {
        status == 429 || status == 503 || (status == 403 && headers["retry-after"] != nil)
    }

    /// How long the host is held back after its `strikes`th throttle in a row (1: the first): `Retry-After` when the
    /// answer gave a positive one, else "equal jitter" — uniformly random in the upper half of
    /// `min(maxDelay, baseDelay × 2^(strikes-1))`, so the pause is never close to none (`Retry-After: 0` included)
    /// and hosts that got the same answer do not all come back at once. Never more than ``maxPause``, except that a
    /// ``maxPause`` below ``baseDelay`` (`--max-wait 0`) still holds the host up to ``baseDelay``: the backoff is
    /// turned off only by ``off``. A `Retry-After` that reached ``RetryPolicy/longestDelay`` (`1e20`, `inf`) reads as
    /// none: the request that got it fails at once (``RetryPolicy/mayWait(_:within:)``), and with a ``maxPause`` of
    /// 10^9 or more it would otherwise hold every later request to the host for 31 years.
    public func pause(retryAfter: Double?, strikes: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let cap = max(maxPause, baseDelay)
        if let retryAfter, retryAfter > 0, retryAfter < RetryPolicy.longestDelay { return min(cap, retryAfter) }
        let ceiling = min(maxDelay, baseDelay * Double(1 << min(max(strikes - 1, 0), 30)))
        return min(cap, ceiling / 2 + ceiling / 2 * random)
    }
}
