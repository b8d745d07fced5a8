import SmartSyncCore

extension FileLock {
    /// Takes the lock, waiting up to `timeout` while another process holds it.
    ///
    /// The wait polls (`LOCK_NB`) with `Task.sleep` between tries, 10 ms growing to 250 ms, so a waiting task holds
    /// no thread of Swift's cooperative pool and can be cancelled. `onWait` is called once, with the holder's
    /// description, when the first try finds the lock taken. Past the timeout, `.locked` is thrown saying how long
    /// it waited. A zero timeout is one try, as ``acquire(path:what:shared:)``.
    ///
    /// `flock` gives no order between waiters: an exclusive waiter (gc) can be overtaken by shared holders (syncs)
    /// that keep overlapping; the timeout bounds that.
    public static func acquire(
        path: String, what: String, shared: Bool, waitingUpTo timeout: Duration,
        onWait: @Sendable (String) -> Void = { _ in }
    ) async throws -> FileLock {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var delay = Duration.milliseconds(10)
        var told = false
        while true {
            do {
                return try acquire(path: path, what: what, shared: shared)
            } catch let error as SmartSyncError where error.code == .locked {
                let now = clock.now
                guard now < deadline else {
                    guard timeout > .zero else { throw error }
                    throw SmartSyncError(
                        .locked, error.message + "; gave up after waiting \(Self.seconds(timeout)) s", hint: error.hint,
                        cause: error)
                }
                if !told {
                    told = true
                    onWait(error.text)
                }
                do {
                    try await Task.sleep(for: min(delay, now.duration(to: deadline)))
                } catch {
                    throw SmartSyncError(.cancelled, "stopped waiting for the lock on \(what)")
                }
                delay = min(delay * 2, .milliseconds(250))
            }
        }
    }

    private static func seconds(_ d: Duration) -> String {
        let (s, attos) = d.components
        return attos == 0 ? String(s) : String(Double(s) + Double(attos) / 1e18)
    }
}
