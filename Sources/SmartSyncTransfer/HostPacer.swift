/// What the engine decided when a host throttled a request: how long every new request to it waits, and how many may
/// run at once to it from now on. Logged by the awaiting task.
struct HostThrottle: Sendable {
    var host: String
    var status: Int
    /// Seconds from the answer until new requests to the host may start.
    var pause: Double
    /// The host's concurrency cap after the answer.
    var limit: Int
    /// Whether this answer cut the cap (only the first of a burst of throttled answers does).
    var cut: Bool
}

/// Per-host pacing decided on the engine thread, keyed by ``RequestURL/hostKey``: the host-wide backoff after a
/// throttling answer (``HostBackoffPolicy``), the host's current concurrency cap (cut by half on a throttle, given
/// back additively), and `--max-rate-per-host` (a token bucket of requests per host). Engine thread only.
final class HostPacer {
    private struct Host {
        /// Monotonic time before which no new request to the host starts.
        var pausedUntil = 0.0
        /// Requests that may run at once to the host now.
        var limit: Int
        /// Successes since the cap last moved (the cap grows by one after `limit` of them).
        var credit = 0
        /// Throttling answers in a row (reset by any other answer).
        var strikes = 0
        /// When the cap was last cut: a throttled request that started before then does not cut it again.
        var lastCut = -Double.infinity
        /// The request-rate bucket: requests that may start now, and when it was last refilled.
        var tokens: Double
        var refilled: Double
    }

    let policy: HostBackoffPolicy
    let maxPerHost: Int
    /// Requests per second per host; nil: no cap.
    let requestRate: Double?
    /// The most requests the bucket holds: one second's worth, at least one.
    let requestBurst: Double
    private var hosts: [String: Host] = [:]
    /// Throttling answers seen over the engine's life.
    private(set) var throttles = 0

    init(policy: HostBackoffPolicy, maxPerHost: Int, requestRate: Double?) {
        self.policy = policy
        self.maxPerHost = maxPerHost
        self.requestRate = requestRate
        requestBurst = max(1, requestRate ?? 1)
    }

    private func host(_ key: String, now: Double) -> Host {
        hosts[key] ?? Host(limit: maxPerHost, tokens: requestBurst, refilled: now)
    }

    /// Whether a new request to `key` may start now with `running` already running to it; when not, the monotonic
    /// time at which it may (nil: when a running request finishes).
    func admission(_ key: String, running: Int, now: Double) -> (allowed: Bool, retryAt: Double?) {
        guard hosts[key] != nil || requestRate != nil else { return (running < maxPerHost, nil) }
        var state = host(key, now: now)
        defer { hosts[key] = state }
        if now < state.pausedUntil { return (false, state.pausedUntil) }
        guard running < state.limit else { return (false, nil) }
        guard let rate = requestRate else { return (true, nil) }
        state.tokens = min(requestBurst, state.tokens + max(0, now - state.refilled) * rate)
        state.refilled = now
        guard state.tokens >= 1 else { return (false, now + (1 - state.tokens) / rate) }
        return (true, nil)
    }

    /// A request to `key` starts: takes its token.
    func started(_ key: String) {
        guard requestRate != nil, var state = hosts[key] else { return }
        state.tokens -= 1
        hosts[key] = state
    }

    /// A request to `key` that started at `startedAt` got an answer: a throttling one pauses the host and may cut its
    /// cap (returned, for the log); any other moves the cap back up.
    func answered(
        _ key: String, status: Int, headers: HTTPHeaders, startedAt: Double, now: Double
    ) -> HostThrottle? {
        guard policy.enabled else { return nil }
        guard HostBackoffPolicy.isThrottle(status: status, headers: headers) else {
            guard var state = hosts[key] else { return nil }
            state.strikes = 0
            if state.limit < maxPerHost {
                state.credit += 1
                if state.credit >= state.limit {
                    state.limit += 1
                    state.credit = 0
                }
            }
            hosts[key] = state
            return nil
        }
        throttles += 1
        var state = host(key, now: now)
        let cut = startedAt >= state.lastCut
        if cut {
            state.limit = max(1, state.limit / 2)
            state.credit = 0
            state.strikes += 1
            state.lastCut = now
        }
        let pause = policy.pause(
            retryAfter: RetryPolicy.retryAfter(headers["retry-after"]), strikes: max(1, state.strikes))
        state.pausedUntil = max(state.pausedUntil, now + pause)
        hosts[key] = state
        return HostThrottle(host: key, status: status, pause: state.pausedUntil - now, limit: state.limit, cut: cut)
    }
}
