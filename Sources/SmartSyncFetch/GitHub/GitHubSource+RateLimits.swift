import FoundationEssentials
import SmartSyncCore
import SmartSyncTransfer
import Synchronization

extension GitHubSource {
    /// Sends one API request: paced by ``apiGate``, retried on transient failures (``RetryPolicy``), and, when
    /// GitHub's rate limit is exhausted, held until the reset if that is within ``maxWait`` seconds.
    ///
    /// - Parameter conditional: the request carries `If-None-Match`; with a token a `304` costs no quota, so an
    ///   exhausted limit does not hold it back (without a token a `304` counts, and an exhausted limit's answer is
    ///   waited for or thrown as any other's, below).
    /// - Throws: `.rateLimited` naming the reset time when the wait would be longer than ``maxWait``.
    func apiRequest(_ request: TransferRequest, conditional: Bool) async throws -> TransferResponse {
        var waits = 0
        while true {
            if !conditional { try await waitForQuota(endpoint: "GET " + request.url) }
            let response = try await apiGate.run {
                try await engine.perform(
                    retrying: retryPolicy,
                    retryable: { RetryPolicy.isRetryable($0) && !RateLimitState.isPrimaryLimit($0) },
                    onRetry: announceRetry
                ) { _ in
                    stats.withLock {
                        $0.apiRequests += 1
                        $0.count(.api, requests: 1)
                    }
                    return request
                }
            }
            let state = RateLimitState(headers: response.headers)
            stats.withLock {
                $0.bytesReceived += response.bytesReceived
                $0.count(.api, bytes: response.bytesReceived)
                $0.connections += response.newConnections
                if let state { $0.rateLimitRemaining = state.remaining }
            }
            if let state { rateLimit.withLock { $0 = state } }
            guard RateLimitState.isPrimaryLimit(response), waits < 2 else { return response }
            // Exhausted: wait for the reset when allowed, else fail with the reset time.
            waits += 1
            let exhausted = state ?? RateLimitState(remaining: 0)
            try await sleepUntilReset(exhausted, endpoint: "GET " + request.url, status: response.status)
        }
    }

    /// Before a request that would count against the quota: when the last response said none is left, wait for
    /// the reset (or fail at once when it is further away than ``maxWait``).
    private func waitForQuota(endpoint: String) async throws {
        guard let state = rateLimit.withLock({ $0 }), state.isExhausted() else { return }
        try await sleepUntilReset(state, endpoint: endpoint, status: nil)
    }

    private func sleepUntilReset(_ state: RateLimitState, endpoint: String, status: Int?) async throws {
        let delay = state.delayUntilReset()
        guard RetryPolicy.mayWait(delay, within: maxWait) else {
            throw GitHubJSON.rateLimitError(
                state: state, endpoint: endpoint, status: status, said: "", authenticated: token != nil,
                maxWait: maxWait)
        }
        notice("GitHub's API rate limit is exhausted; waiting \(delay.fixed(0)) s for it to reset")
        try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
    }
}
