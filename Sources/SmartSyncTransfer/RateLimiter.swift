import CCurl
import FoundationEssentials

/// Seconds on a monotonic clock (never jumps with the wall clock).
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1_000_000_000
}

/// `--limit-rate`: one token bucket shared by every transfer of an engine. Engine thread only.
///
/// The write callback asks ``admit(_:)`` before it takes a chunk. When the bucket is empty the callback returns
/// `CURL_WRITEFUNC_PAUSE` (curl keeps the chunk and delivers it again once unpaused) and the transfer joins the
/// paused queue; only admitted chunks are counted. Each turn of the engine loop ``refill(now:)``s the bucket by
/// the time elapsed, up to a small burst, and ``resume(_:)`` unpauses queued transfers first-in first-out while
/// tokens last, so no transfer starves and an active one may use what idle ones leave.
///
/// A chunk is admitted whenever the bucket holds any token, and its whole size is taken, so the bucket may go
/// negative by up to one chunk: curl cannot split a chunk, and the debt is paid before anything else is admitted.
/// Over any interval the bytes admitted are at most `rate × time + burst + one chunk`.
final class RateLimiter {
    /// The budget, in bytes per second.
    let bytesPerSecond: Double
    /// The most tokens the bucket holds: 1/20 s of budget or 16 KiB, whichever is larger.
    let burst: Double
    /// Bytes that may be admitted now; negative while a chunk larger than the balance is being paid off.
    private(set) var tokens: Double
    private var lastRefill: Double
    /// Transfers paused by ``admit(_:)`` refusing a chunk, oldest first.
    private var paused: [EasyTransfer] = []

    init(bytesPerSecond: Int, now: Double) {
        self.bytesPerSecond = Double(bytesPerSecond)
        burst = max(Double(bytesPerSecond) / 20, 16 * 1024)
        tokens = burst
        lastRefill = now
    }

    /// Whether some transfer waits for tokens (the loop then polls with a short timeout).
    var hasPaused: Bool { !paused.isEmpty }

    /// Takes `count` bytes from the bucket if it holds any token; false means "pause this transfer".
    func admit(_ count: Int) -> Bool {
        guard tokens > 0 else { return false }
        tokens -= Double(count)
        return true
    }

    /// The most tokens the bucket holds while transfers wait for it: half a second of budget. When the engine
    /// thread itself was late (a loaded machine did not run it for a while), waiting transfers catch up on the
    /// budget they were owed instead of losing it; an idle engine still saves no more than ``burst``. Either way no
    /// more than `rate × time` plus the initial burst is ever admitted.
    var catchUp: Double { max(burst, bytesPerSecond / 2) }

    /// Adds the tokens earned since the last refill, up to ``burst`` (``catchUp`` while transfers wait).
    func refill(now: Double) {
        let elapsed = max(0, now - lastRefill)
        lastRefill = now
        tokens = min(paused.isEmpty ? burst : catchUp, tokens + elapsed * bytesPerSecond)
    }

    /// Milliseconds until the bucket has tokens again, for the loop's poll timeout (5–20 ms while paused).
    var pollTimeoutMilliseconds: Int32 {
        guard tokens <= 0 else { return 5 }
        let wait = (-tokens / bytesPerSecond * 1000).rounded(.up)
        return Int32(min(20, max(5, wait)))
    }

    /// Queues a transfer whose write callback just refused a chunk.
    func enqueue(_ transfer: EasyTransfer) {
        paused.append(transfer)
    }

    /// Forgets a transfer leaving the engine.
    func remove(_ transfer: EasyTransfer) {
        paused.removeAll { $0 === transfer }
    }

    /// Unpauses queued transfers, oldest first, while the bucket has tokens.
    ///
    /// `unpause` calls `curl_easy_pause`, which may deliver the kept chunk synchronously (the callback then takes
    /// tokens, or pauses the transfer again, putting it at the back of the queue). When curl defers the delivery
    /// to the next `curl_multi_perform` (HTTP/2), the chunk's size is set aside from the balance, so a burst of
    /// unpauses never promises more bytes than the bucket holds.
    func resume(_ unpause: (EasyTransfer) -> Void) {
        var promised = 0.0
        var turns = paused.count
        while turns > 0, !paused.isEmpty, tokens - promised > 0 {
            turns -= 1
            let transfer = paused.removeFirst()
            unpause(transfer)
            if transfer.awaitingRedelivery, !transfer.pausedByLimiter {
                promised += Double(transfer.refusedChunk)
            }
        }
    }
}
