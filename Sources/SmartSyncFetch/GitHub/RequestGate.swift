/// Paces requests to one host: a token bucket (`rate` requests per second on average, bursts up to `burst`)
/// and a cap on requests in flight at once.
///
/// GitHub asks clients to keep API requests few and mostly serial (its "secondary" rate limits punish bursts and
/// concurrency), so the API host gets a modest bucket and at most a few concurrent requests. Waiting suspends
/// only the asking task.
public actor RequestGate {
    /// Average requests per second.
    public let rate: Double
    /// Requests that may go at once after a quiet period.
    public let burst: Double
    /// Requests in flight at once.
    public let maxConcurrent: Int

    private var tokens: Double
    private var refilled: ContinuousClock.Instant
    private var active = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(rate: Double = 10, burst: Double = 20, maxConcurrent: Int = 4) {
        precondition(rate > 0 && burst >= 1 && maxConcurrent >= 1)
        self.rate = rate
        self.burst = burst
        self.maxConcurrent = maxConcurrent
        tokens = burst
        refilled = .now
    }

    /// Waits for a slot and a token; pair with ``release()``.
    public func acquire() async {
        if active < maxConcurrent {
            active += 1
        } else {
            // release() hands its slot straight to the first waiter.
            await withCheckedContinuation { waiting.append($0) }
        }
        let now = ContinuousClock.now
        let elapsed = (now - refilled).components
        tokens = min(burst, tokens + (Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18) * rate)
        refilled = now
        tokens -= 1  // reserve before sleeping, so concurrent askers queue behind this one
        if tokens < 0 {
            try? await Task.sleep(for: .seconds(-tokens / rate))
        }
    }

    /// Gives the slot back.
    public func release() {
        if waiting.isEmpty {
            active -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }

    /// Runs `body` inside the gate.
    public nonisolated func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        do {
            let value = try await body()
            await release()
            return value
        } catch {
            await release()
            throw error
        }
    }
}
