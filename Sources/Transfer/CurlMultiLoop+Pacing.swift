import CCurl
import SmartSyncCore

/// The engine's rate limit and stall settings (from ``TransferConfiguration``).
struct Pacing: Sendable {
    /// `--limit-rate`, bytes per second over all transfers; nil: unlimited.
    var limitRate: Int?
    /// Seconds of too little progress after which a transfer is stalled; infinite: never.
    var stallTimeout: Double
    /// Bytes per second below which a transfer makes too little progress.
    var stallSpeed: Int

    var detectsStalls: Bool { stallTimeout.isFinite && stallTimeout > 0 && stallSpeed > 0 }
}

extension CurlMultiLoop {
    /// Refills the rate limiter and unpauses the transfers waiting for it, oldest first. Engine thread only, never
    /// from inside a curl callback (`curl_easy_pause` may call the write callback before it returns).
    func resumePaused(_ multi: UnsafeMutableRawPointer) {
        guard let limiter else { return }
        let now = monotonicSeconds()
        limiter.refill(now: now)
        guard limiter.hasPaused else { return }
        var failed: [(EasyTransfer, CURLcode)] = []
        limiter.resume { transfer in
            transfer.resumeFromLimiter(now: now)
            guard let easy = transfer.easy else { return }
            let code = ss_easy_unpause(easy)
            // The kept chunk was delivered inside curl_easy_pause and refused (sink error, memory limit): curl
            // reports the failure here, not as a finished message, so the engine ends the transfer itself.
            if code != CURLE_OK { failed.append((transfer, code)) }
        }
        for (transfer, code) in failed {
            let url = transfer.hop.url.string
            let error = SmartSyncError.transfer(code: code, url: url, detail: transfer.errorText, abort: transfer.abort)
            retire(transfer, multi)
            finish(transfer, .failure(error))
        }
    }

    /// Fails transfers that made too little progress over the stall window (time paused by the limiter not
    /// counted) with a retryable `.network` error. Checked at most ten times a second.
    func checkStalls(_ multi: UnsafeMutableRawPointer) {
        guard pacing.detectsStalls, !active.isEmpty else { return }
        let now = monotonicSeconds()
        guard now - lastStallCheck >= 0.1 else { return }
        lastStallCheck = now
        var stalled: [EasyTransfer] = []
        for transfer in active.values {
            let clock = transfer.unpausedElapsed(now: now)
            if transfer.stallWatch?.observe(clock: clock, bytes: transfer.progressBytes) == true {
                stalled.append(transfer)
            }
        }
        for transfer in stalled {
            let reason = AbortReason.stalled(
                speed: pacing.stallSpeed, seconds: pacing.stallTimeout, received: transfer.bytesReceived)
            transfer.abort = reason
            retire(transfer, multi)
            finish(transfer, .failure(SmartSyncError.aborted(reason, url: transfer.hop.url.string)))
        }
    }

    /// How long `curl_multi_poll` may sleep: short while the limiter holds paused transfers, a quarter of the
    /// stall window while transfers run (so a stall is noticed soon after it happens), else one second.
    func pollTimeout() -> Int32 {
        var milliseconds: Int32 = 1000
        if pacing.detectsStalls, !active.isEmpty {
            milliseconds = min(milliseconds, Int32(max(10, min(1000, pacing.stallTimeout * 250))))
        }
        if let limiter, limiter.hasPaused {
            milliseconds = min(milliseconds, limiter.pollTimeoutMilliseconds)
        }
        return milliseconds
    }
}
