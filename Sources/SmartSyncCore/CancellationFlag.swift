import Synchronization

/// Tells blocking work on a thread of its own (``DedicatedThread``) that the task waiting for it was cancelled.
///
/// `Task.isCancelled` says nothing on such a thread: it runs outside any task. The work checks the flag at points where
/// stopping leaves nothing half done (a scan: before each directory) and throws `CancellationError` there, so a task
/// that has failed for another reason (a resolve, a listing) does not wait for the rest of it.
public final class CancellationFlag: Sendable {
    private let cancelled = Atomic<Bool>(false)

    public init() {}

    /// Whether ``cancel()`` was called.
    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Sets the flag (once set, it stays set).
    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    /// Throws `CancellationError` when the flag is set.
    public func check() throws {
        if isCancelled { throw CancellationError() }
    }
}
