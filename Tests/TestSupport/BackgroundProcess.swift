import Foundation

/// A server process a test started: stopped at most once (SIGTERM, then SIGKILL after 5 s), so a test run
/// never hangs on a child that ignores SIGTERM (children of Foundation's `Process` inherit a blocked mask).
///
/// `@unchecked Sendable`: the only mutable state is the `Process`, guarded by `lock`.
public final class BackgroundProcess: @unchecked Sendable {
    private let lock = NSLock()
    private var process: Process?

    public init() {}

    /// Takes ownership of a started process.
    public func adopt(_ process: Process) {
        lock.lock()
        self.process = process
        lock.unlock()
    }

    /// Stops the process and waits for it. Returns false when there was nothing to stop (already stopped).
    @discardableResult
    public func stop() -> Bool {
        lock.lock()
        let process = self.process
        self.process = nil
        lock.unlock()
        guard let process else { return false }
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
