import SmartSyncCore
import Synchronization

/// A server process a test started: stopped at most once (SIGTERM, then SIGKILL after 5 s), so a test run
/// never hangs on a child that ignores SIGTERM.
public final class BackgroundProcess: Sendable {
    private let process = Mutex<ChildProcess?>(nil)

    public init() {}

    /// Takes ownership of a started process.
    public func adopt(_ process: ChildProcess) {
        self.process.withLock { $0 = process }
    }

    /// Stops the process and waits for it. Returns false when there was nothing to stop (already stopped).
    @discardableResult
    public func stop() -> Bool {
        guard let process = self.process.withLock({ $0.take() }) else { return false }
        process.terminate(grace: .seconds(5))
        return true
    }
}
