/// Stall detection for one transfer: fewer than `speed × window` bytes (headers and body) over the last `window`
/// seconds of the transfer's own clock. Engine thread only.
///
/// The clock runs only while the transfer is on the multi handle and not paused by the ``RateLimiter``: time
/// spent waiting for the shared budget is not a stall. (curl's `CURLOPT_LOW_SPEED_LIMIT` measures wall-clock
/// speed, which a transfer sharing a small `--limit-rate` with fifteen others may legitimately be below, so the
/// engine does not use it.) The window slides: progress is sampled every tenth of a window and compared with the
/// newest sample at least a window old.
struct StallWatch {
    /// Seconds of the transfer's clock to look back over.
    let window: Double
    /// Bytes per second below which the transfer is stalled.
    let speed: Int
    /// Samples of (clock, bytes), oldest first; the first is the newest one at least `window` old once the clock
    /// has run that long.
    private var samples: [(clock: Double, bytes: Int)] = [(0, 0)]

    init(window: Double, speed: Int) {
        self.window = window
        self.speed = speed
    }

    /// Records progress at `clock` seconds of unpaused time with `bytes` received so far; true when stalled.
    mutating func observe(clock: Double, bytes: Int) -> Bool {
        guard let progress = progress(clock: clock, bytes: bytes) else { return false }
        return Double(progress) < Double(speed) * window
    }

    /// Records progress at `clock` seconds of unpaused time with `bytes` received so far; the bytes received over
    /// the last window, or nil while the clock has not run a whole window.
    mutating func progress(clock: Double, bytes: Int) -> Int? {
        if let last = samples.last, clock - last.clock >= window / 10 {
            samples.append((clock, bytes))
        }
        // Keep exactly one sample at or before the window's start.
        while samples.count > 1, samples[1].clock <= clock - window { samples.removeFirst() }
        guard clock >= window, let base = samples.first, base.clock <= clock - window else { return nil }
        return bytes - base.bytes
    }
}
