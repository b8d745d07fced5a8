import SmartSyncCore

/// How much of a pack has reached its spool file so far, for an import that runs while the pack downloads.
///
/// The transfer's sink reports growth (``grew(to:)``) and the end (``finish()``); the importer, reading past what
/// is there, waits (``wait(beyond:)``) instead of taking the end of the file for the end of the pack. So inflating,
/// delta resolution and hashing overlap the download, as `git index-pack` does while `git clone` receives.
public final class PackArrival: @unchecked Sendable {  // state guarded by `condition`
    private let condition = Condition()
    private var bytes = 0
    private var finished = false

    public init() {}

    /// The spool now holds `count` bytes of pack.
    public func grew(to count: Int) {
        condition.lock()
        if count > bytes {
            bytes = count
            condition.broadcast()
        }
        condition.unlock()
    }

    /// No more bytes will come (the transfer ended, completely or not).
    public func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the spool holds more than `offset` bytes (true) or the transfer has ended without them (false).
    func wait(beyond offset: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while bytes <= offset && !finished { condition.wait() }
        return bytes > offset
    }
}
