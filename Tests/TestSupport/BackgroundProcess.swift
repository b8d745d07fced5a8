import Foundation
import Synchronization

/// A server process a test started: stopped at most once (SIGTERM, then SIGKILL after 5 s), so a test run
/// never hangs on a child that ignores SIGTERM (children of Foundation's `Process` inherit a blocked mask).
public final class BackgroundProcess: Sendable {
    private let process = Mutex<Process?>(nil)

    public init() {}

    /// Takes ownership of a started process.
    public func adopt(_ process: Process) {
        self.process.withLock { $0 = process }
    }

    /// Stops the process and waits for it. Returns false when there was nothing to stop (already stopped).
    @discardableResult
    public func stop() -> Bool {
        guard let process = self.process.withLock({ $0.take() }) else { return false }
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        return true
    }
}
