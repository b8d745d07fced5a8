import CCurl
import SmartSyncCore

/// The engine's rate limit, stall, speed, deadline and volume settings (from ``TransferConfiguration``).
struct Pacing: Sendable {
    /// `--limit-rate`, bytes per second over all transfers; nil: unlimited.
    var limitRate: Int?
    /// Seconds of too little progress after which a transfer is stalled; infinite: never. Also the window of
    /// ``minSpeed``.
    var stallTimeout: Double
    /// Bytes per second below which a transfer makes too little progress.
    var stallSpeed: Int
    /// Bytes per second of payload a transfer must keep up once its payload flows; 0: not checked.
    var minSpeed: Int = 0
    /// Seconds a transfer may run on its own clock; infinite: no limit.
    var requestTimeout: Double = .infinity
    /// Body bytes the engine may receive over its life; nil: no limit.
    var maxDownload: Int?

    var detectsStalls: Bool { stallTimeout.isFinite && stallTimeout > 0 && stallSpeed > 0 }
    var checksMinSpeed: Bool { stallTimeout.isFinite && stallTimeout > 0 && minSpeed > 0 }
    var hasDeadline: Bool { requestTimeout.isFinite && requestTimeout > 0 }
    /// Whether running transfers need watching at all.
    var watchesTransfers: Bool { detectsStalls || checksMinSpeed || hasDeadline }
}

/// `--max-download`: the body bytes all of an engine's transfers receive, against one limit. Engine thread only.
///
/// Once a chunk is refused the meter stays closed: every later body byte is refused too, so a run that reached its
/// limit fails its remaining transfers at once instead of taking what happens to fit.
final class DownloadMeter {
    let limit: Int
    private(set) var received = 0
    private var closed = false

    init(limit: Int) { self.limit = limit }

    /// Counts a chunk of `count` bytes when it fits; false (counting nothing) when it would go past the limit.
    func admit(_ count: Int) -> Bool {
        guard count > 0 else { return true }
        guard !closed, count <= limit - received else {
            closed = true
            return false
        }
        received += count
        return true
    }
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

    /// Fails transfers that ran past the request deadline (`.limitExceeded`), made too little progress over the
    /// stall window, or whose payload, once it flowed, came slower than the minimum speed (both retryable
    /// `.network` errors). Every clock here is the transfer's own: time paused by the limiter is not counted.
    /// Checked at most ten times a second.
    func checkPace(_ multi: UnsafeMutableRawPointer) {
        guard pacing.watchesTransfers, !active.isEmpty else { return }
        let now = monotonicSeconds()
        guard now - lastStallCheck >= 0.1 else { return }
        lastStallCheck = now
        var failed: [(EasyTransfer, AbortReason)] = []
        for transfer in active.values {
            if let reason = paceProblem(transfer, clock: transfer.unpausedElapsed(now: now)) {
                failed.append((transfer, reason))
            }
        }
        for (transfer, reason) in failed {
            transfer.abort = reason
            retire(transfer, multi)
            finish(transfer, .failure(SmartSyncError.aborted(reason, url: transfer.hop.url.string)))
        }
    }

    /// What is wrong with a transfer's pace at `clock` seconds of its own time, if anything.
    private func paceProblem(_ transfer: EasyTransfer, clock: Double) -> AbortReason? {
        if pacing.hasDeadline, clock > pacing.requestTimeout {
            return .deadline(seconds: pacing.requestTimeout, received: transfer.bytesReceived)
        }
        if transfer.progressBytes != transfer.lastProgress.bytes {
            transfer.lastProgress = (clock, transfer.progressBytes)
        }
        if transfer.stallWatch?.observe(clock: clock, bytes: transfer.progressBytes) == true {
            return .stalled(speed: pacing.stallSpeed, seconds: pacing.stallTimeout, received: transfer.bytesReceived)
        }
        guard pacing.checksMinSpeed else { return nil }
        let payload = transfer.payloadBytes
        if transfer.minSpeedWatch == nil, payload > 0 {
            // The window starts with the payload: a server may think (or send keep-alives) before it sends.
            transfer.minSpeedWatch = StallWatch(window: pacing.stallTimeout, speed: pacing.minSpeed)
            transfer.payloadSince = clock
        }
        guard let progress = transfer.minSpeedWatch?.progress(clock: clock - transfer.payloadSince, bytes: payload),
            Double(progress) < Double(pacing.minSpeed) * pacing.stallTimeout
        else { return nil }
        // A transfer that stopped altogether is a stall: say so. (Its bytes may all have come at the start of the
        // minimum-speed window, before the stall watch's own window slid past them.)
        if Double(progress) < Double(pacing.stallSpeed) * pacing.stallTimeout
            || clock - transfer.lastProgress.clock >= pacing.stallTimeout
        {
            return .stalled(speed: pacing.stallSpeed, seconds: pacing.stallTimeout, received: transfer.bytesReceived)
        }
        return .tooSlow(speed: pacing.minSpeed, seconds: pacing.stallTimeout, received: transfer.bytesReceived)
    }

    /// How long `curl_multi_poll` may sleep: short while the limiter holds paused transfers, a quarter of the
    /// stall window while transfers run (so a stall is noticed soon after it happens), until the next transfer held
    /// back by a paused host or the per-host request rate may start, else one second.
    func pollTimeout() -> Int32 {
        var milliseconds: Int32 = 1000
        if pacing.watchesTransfers, !active.isEmpty {
            milliseconds = min(milliseconds, Int32(max(10, min(1000, pacing.stallTimeout * 250))))
        }
        if let limiter, limiter.hasPaused {
            milliseconds = min(milliseconds, limiter.pollTimeoutMilliseconds)
        }
        if let nextAdmission {
            let wait = ((nextAdmission - monotonicSeconds()) * 1000).rounded(.up)
            milliseconds = min(milliseconds, Int32(max(1, min(1000, wait))))
        }
        return milliseconds
    }
}
