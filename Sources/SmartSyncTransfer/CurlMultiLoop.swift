import CCurl
import FoundationEssentials
import Glibc
import SmartSyncCore

/// The bridge between async callers and the one thread that owns the `CURLM*`.
///
/// `@unchecked Sendable` because the compiler cannot see the discipline that makes it safe: every property shared
/// between threads (`multi` for `curl_multi_wakeup`, `inbox`, `cancelRequests`, `phases`, `shuttingDown`,
/// `stats`, `loopThread`, `exited`, `exitWaiters`, `setUpFailure`) is read and written only while holding
/// `condition`; the multi handle itself and the loop-only state (`waiting`, `active`, `perHost`, `limiter`, `pacer`)
/// are touched only by the engine thread in ``run()``.
///
/// The thread makes its own curl state first (``Setup``: loading libcurl, the trust store, the multi handle), so a
/// run's main thread never waits for libcurl: transfers submitted meanwhile wait in the inbox, and when the setup
/// fails they, and every later one, fail with its error. ``shutdown(wait:)`` joins the thread, setup included.
final class CurlMultiLoop: @unchecked Sendable {
    /// Where a transfer is, as seen by callers (guarded by `condition`).
    private enum Phase {
        /// Registered by `perform`, not yet in the inbox.
        case registered
        /// Cancelled before it reached the inbox: `submit` fails it at once.
        case cancelledEarly
        /// In the inbox or owned by the engine thread.
        case submitted
    }

    /// What the engine thread makes before its first transfer: the multi handle (owned by the loop from then on)
    /// and the easy handles' settings.
    typealias Setup = @Sendable () throws -> (multi: UnsafeMutableRawPointer, settings: EasySettings)

    private let condition = Condition()
    private let setUp: Setup
    private let maxConcurrent: Int
    let pacing: Pacing

    // Guarded by `condition`.
    private var multi: UnsafeMutableRawPointer?
    private var inbox: [EasyTransfer] = []
    private var cancelRequests: [UInt64] = []
    private var phases: [UInt64: Phase] = [:]
    private var nextID: UInt64 = 1
    private var shuttingDown = false
    private var exited = false
    /// Callers of ``shutdown(wait:)`` waiting for the thread to exit: a test hook (read through ``shutdownWaiters``),
    /// nothing in the loop depends on it.
    private var exitWaiters = 0
    private var loopThread: pthread_t?
    private var stats = TransferStatistics()
    /// Why the thread could not make its curl state; every transfer fails with it.
    private var setUpFailure: (any Error)?

    // Engine thread only (also used by the pacing extension, CurlMultiLoop+Pacing.swift).
    private var waiting: [EasyTransfer] = []
    var active: [UInt64: EasyTransfer] = [:]
    private var perHost: [String: Int] = [:]
    var limiter: RateLimiter?
    /// Host-wide backoff, per-host caps and `--max-rate-per-host`.
    let pacer: HostPacer
    /// The earliest monotonic time a transfer held back by ``pacer`` (a paused host, an empty request bucket) may
    /// start; nil when none is held back for a time. The loop wakes by then: no socket event would.
    var nextAdmission: Double?
    /// `--max-download` over all transfers, when set.
    private var meter: DownloadMeter?
    var lastStallCheck = 0.0

    init(setUp: @escaping Setup, maxConcurrent: Int, pacing: Pacing, pacer: HostPacer) {
        self.setUp = setUp
        self.maxConcurrent = maxConcurrent
        self.pacing = pacing
        self.pacer = pacer
    }

    /// Starts the engine thread. It keeps `self` alive until it exits.
    func start() {
        DedicatedThread.start(name: "ss-curl") { [self] in run() }
    }

    // MARK: - Called from any thread

    var statistics: TransferStatistics {
        condition.lock()
        defer { condition.unlock() }
        return stats
    }

    /// Reserves an id for a transfer about to be submitted, or nil after shutdown.
    func register() -> UInt64? {
        condition.lock()
        defer { condition.unlock() }
        guard !shuttingDown else { return nil }
        let id = nextID
        nextID += 1
        phases[id] = .registered
        return id
    }

    /// Hands a transfer (with its continuation set) to the engine thread.
    func submit(_ transfer: EasyTransfer) {
        condition.lock()
        let phase = phases[transfer.id]
        if let setUpFailure {
            phases[transfer.id] = nil
            condition.unlock()
            transfer.complete(.failure(setUpFailure))
            return
        }
        if shuttingDown || phase == .cancelledEarly || phase == nil {
            phases[transfer.id] = nil
            let stopping = shuttingDown
            condition.unlock()
            let reason: AbortReason = stopping ? .shutdown : .taskCancelled
            transfer.complete(.failure(SmartSyncError.aborted(reason, url: transfer.hop.url.string)))
            return
        }
        phases[transfer.id] = .submitted
        inbox.append(transfer)
        if let multi { _ = curl_multi_wakeup(multi) }
        condition.unlock()
    }

    /// Cancels a transfer wherever it is; a no-op once it completed.
    func cancel(_ id: UInt64) {
        condition.lock()
        defer { condition.unlock() }
        switch phases[id] {
        case .registered:
            phases[id] = .cancelledEarly
        case .submitted:
            cancelRequests.append(id)
            if let multi { _ = curl_multi_wakeup(multi) }
        case .cancelledEarly, nil:
            break
        }
    }

    /// Asks the thread to fail everything with `.cancelled` and exit; waits for it unless `wait` is false or this
    /// is the engine thread itself (a sink calling `shutdown()`).
    func shutdown(wait: Bool) {
        condition.lock()
        defer { condition.unlock() }
        if !shuttingDown {
            shuttingDown = true
            if wait, let multi { _ = curl_multi_wakeup(multi) }
        }
        guard wait else { return }
        if let loopThread, pthread_equal(loopThread, pthread_self()) != 0 { return }
        exitWaiters += 1
        while !exited { condition.wait() }
        exitWaiters -= 1
    }

    /// How many callers of ``shutdown(wait:)`` wait for the thread to exit now. A test hook (internal, for
    /// `@testable` tests): a test of the setup's hand-off waits for it before it lets the setup finish.
    var shutdownWaiters: Int {
        condition.lock()
        defer { condition.unlock() }
        return exitWaiters
    }

    // MARK: - Engine thread

    private func run() {
        condition.lock()
        loopThread = pthread_self()
        condition.unlock()
        let multi: UnsafeMutableRawPointer
        let settings: EasySettings
        do {
            (multi, settings) = try setUp()
        } catch {
            condition.lock()
            setUpFailure = error
            let queued = inbox
            inbox.removeAll()
            for transfer in queued { phases[transfer.id] = nil }
            exited = true
            condition.broadcast()
            condition.unlock()
            for transfer in queued { transfer.complete(.failure(error)) }
            return
        }
        condition.lock()
        self.multi = multi
        condition.unlock()
        limiter = pacing.limitRate.map { RateLimiter(bytesPerSecond: $0, now: monotonicSeconds()) }
        meter = pacing.maxDownload.map(DownloadMeter.init(limit:))
        while true {
            condition.lock()
            let arrived = inbox
            inbox.removeAll()
            let cancels = cancelRequests
            cancelRequests.removeAll()
            let stop = shuttingDown
            condition.unlock()
            waiting.append(contentsOf: arrived)
            if stop { break }
            for id in cancels { cancelTransfer(id, multi) }
            startWaiting(multi, settings)
            resumePaused(multi)
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            let finished = drainMessages(multi)
            checkPace(multi)
            if finished {
                startWaiting(multi, settings)
                continue  // new handles want a curl_multi_perform before we sleep
            }
            // Wakes on socket activity, curl's own timers, curl_multi_wakeup, or after the timeout: 1 s at most (so
            // a shutdown flag set from a deinit, which makes no curl call, is still noticed), a few milliseconds
            // while transfers wait for the rate limiter (no socket event would wake us for them), and often enough
            // to notice stalls on time.
            _ = curl_multi_poll(multi, nil, 0, pollTimeout(), nil)
        }
        for transfer in Array(active.values) {
            transfer.abort = .shutdown
            retire(transfer, multi)
            finish(transfer, .failure(SmartSyncError.aborted(.shutdown, url: transfer.hop.url.string)))
        }
        condition.lock()
        let late = inbox
        inbox.removeAll()
        self.multi = nil
        condition.unlock()
        for transfer in waiting + late {
            finish(transfer, .failure(SmartSyncError.aborted(.shutdown, url: transfer.hop.url.string)))
        }
        waiting.removeAll()
        _ = curl_multi_cleanup(multi)
        condition.lock()
        exited = true
        condition.broadcast()
        condition.unlock()
    }

    /// Moves queued transfers onto the multi handle, FIFO, within the global cap and what ``pacer`` allows per host
    /// (its cap, a host-wide pause, its request rate). A transfer whose host is held back does not block transfers
    /// to other hosts behind it.
    private func startWaiting(_ multi: UnsafeMutableRawPointer, _ settings: EasySettings) {
        var index = 0
        let now = monotonicSeconds()
        nextAdmission = nil
        while index < waiting.count, active.count < maxConcurrent {
            let transfer = waiting[index]
            let admission = pacer.admission(transfer.hostKey, running: perHost[transfer.hostKey, default: 0], now: now)
            if !admission.allowed {
                if let at = admission.retryAt { nextAdmission = min(nextAdmission ?? at, at) }
                index += 1
                continue
            }
            waiting.remove(at: index)
            pacer.started(transfer.hostKey)
            let retained = Unmanaged.passRetained(transfer).toOpaque()
            var failure = transfer.makeHandle(settings: settings, retainedSelf: retained)
            if failure == nil, let easy = transfer.easy {
                let rc = curl_multi_add_handle(multi, easy)
                if rc != CURLM_OK {
                    failure = SmartSyncError(
                        .internal,
                        "libcurl could not start the transfer of \(transfer.hop.url.string): "
                            + String(cString: curl_multi_strerror(rc)))
                }
            }
            if let failure {
                transfer.cleanupHandle()
                Unmanaged<EasyTransfer>.fromOpaque(retained).release()
                finish(transfer, .failure(failure))
                continue
            }
            active[transfer.id] = transfer
            perHost[transfer.hostKey, default: 0] += 1
            transfer.limiter = limiter
            transfer.meter = meter
            transfer.startedAt = monotonicSeconds()
            if pacing.detectsStalls {
                transfer.stallWatch = StallWatch(window: pacing.stallTimeout, speed: pacing.stallSpeed)
            }
        }
    }

    /// Completes the transfers curl reports done. Returns whether any finished.
    private func drainMessages(_ multi: UnsafeMutableRawPointer) -> Bool {
        var finishedAny = false
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = ss_msg_result(message)
            var context: UnsafeMutableRawPointer?
            _ = ss_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &context)
            guard let context else { continue }
            let transfer = Unmanaged<EasyTransfer>.fromOpaque(context).takeUnretainedValue()
            var result: Result<TransferResponse, any Error>
            let url = transfer.hop.url.string
            if code == CURLE_OK, transfer.abort == nil {
                // A 2xx with an empty body never reached the write callback: the sink still gets its begin.
                if transfer.beginSinkIfNeeded() {
                    var response = transfer.response()
                    response.hostThrottle = pacer.answered(
                        transfer.hostKey, status: response.status, headers: response.headers,
                        startedAt: transfer.startedAt, now: monotonicSeconds())
                    result = .success(response)
                } else {
                    result = .failure(SmartSyncError.aborted(.sinkRefused, url: url))
                }
            } else {
                result = .failure(
                    SmartSyncError.transfer(code: code, url: url, detail: transfer.errorText, abort: transfer.abort))
            }
            retire(transfer, multi)
            finish(transfer, result)
            finishedAny = true
        }
        return finishedAny
    }

    private func cancelTransfer(_ id: UInt64, _ multi: UnsafeMutableRawPointer) {
        if let transfer = active[id] {
            transfer.abort = .taskCancelled
            retire(transfer, multi)
            finish(transfer, .failure(SmartSyncError.aborted(.taskCancelled, url: transfer.hop.url.string)))
        } else if let index = waiting.firstIndex(where: { $0.id == id }) {
            let transfer = waiting.remove(at: index)
            finish(transfer, .failure(SmartSyncError.aborted(.taskCancelled, url: transfer.hop.url.string)))
        }
    }

    /// Takes an active transfer off the multi handle, frees its curl state and drops curl's retain.
    func retire(_ transfer: EasyTransfer, _ multi: UnsafeMutableRawPointer) {
        guard active.removeValue(forKey: transfer.id) != nil else { return }
        if transfer.pausedByLimiter { limiter?.remove(transfer) }
        transfer.pausedByLimiter = false
        transfer.limiter = nil
        transfer.meter = nil
        if let easy = transfer.easy { _ = curl_multi_remove_handle(multi, easy) }
        transfer.cleanupHandle()
        let host = transfer.hostKey
        perHost[host, default: 1] -= 1
        if perHost[host] == 0 { perHost[host] = nil }
        Unmanaged.passUnretained(transfer).release()
    }

    /// Records statistics and resumes the caller.
    func finish(_ transfer: EasyTransfer, _ result: Result<TransferResponse, any Error>) {
        condition.lock()
        phases[transfer.id] = nil
        if case .success(let response) = result {
            stats.requests += 1
            stats.bytesReceived += response.bytesReceived
            stats.newConnections += response.newConnections
            if response.hostThrottle != nil { stats.hostThrottles += 1 }
        }
        condition.unlock()
        transfer.complete(result)
    }
}
