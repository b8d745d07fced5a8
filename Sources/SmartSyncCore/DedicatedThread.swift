import CLinuxShims
import Glibc

/// Runs blocking work (a child process, a pipe read, a store-wide fsck) on a thread of its own, so it never holds
/// one of the few threads of Swift's cooperative pool. The one place smart-sync does this.
///
/// Every thread it starts is named, by one convention: `ss-` and what the thread does, lowercase words joined by
/// hyphens, 15 bytes at most (the kernel's limit: `ss-pack-import`, `ss-curl`, `ss-scan`). `top -H`, `ps -L -o comm`
/// and `/proc/PID/task/*/comm` then tell smart-sync's threads apart and from the main thread (`smart-sync`); an
/// unnamed thread would carry the name of the thread that made it. Debug builds assert the convention.
public enum DedicatedThread {
    /// Runs `body` on a new thread named `name` and resumes with its result.
    public static func run<T: Sendable>(
        name: String, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            start(name: name) { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Runs `body` on a new thread as ``run(name:_:)`` does, handing it a flag that is set when the calling task is
    /// cancelled: `body` checks it where it can stop and throws `CancellationError` there. Without it, cancelling the
    /// caller (an `async let` whose scope is left by an error) still waits for all of `body`.
    public static func run<T: Sendable>(
        name: String, cancellable body: @escaping @Sendable (CancellationFlag) throws -> T
    ) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await run(name: name) { try body(flag) }
        } onCancel: {
            flag.cancel()
        }
    }

    /// Starts `body` on a new detached thread named `name`. Traps when the system cannot create a thread (as
    /// Foundation's `Thread.start()` does): there is no way to run the work at all then.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let rc = create(name: name, body)
        if rc != 0 { fatalError("pthread_create failed: \(String(cString: strerror(rc)))") }
    }

    /// Starts `body` on a new detached thread named `name` as ``start(name:_:)`` does; false, nothing run (and
    /// `body` released on the calling thread), when the system cannot create a thread: for work the caller can as
    /// well do itself (or leave undone) rather than trap, as ``release(_:name:)`` does.
    public static func startIfPossible(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        create(name: name, body) == 0
    }

    /// Whether `name` follows the convention (see the type's documentation): `ss` and at least one more word, each
    /// word non-empty (no `ss-`, `ss--x`, `ss-x-`).
    static func isConventional(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        let words = name.utf8.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        return name.hasPrefix("ss-") && name.utf8.count <= 15 && words.count >= 2
            && words.allSatisfy { !$0.isEmpty && $0.allSatisfy(allowed.contains) }
    }

    /// Hands `value` to a new thread named `name` (`ss-<what>`, as ``start(name:_:)`` names it) that lets go of it:
    /// the release of what only it holds (the tables of every path of a run) leaves the caller's path. The caller
    /// keeps no reference to it: it goes into a box the thread empties, so whichever of the two lets go of the box
    /// last, `value` itself is released on that thread, however soon the thread runs. False, `value` released here
    /// as the call returns, when no thread can be had (a caller that succeeded does not trap for want of one).
    @discardableResult
    public static func release<T>(_ value: consuming sending T, name: String) -> Bool {
        release(consume value, name: name, beforeReturn: {})
    }

    /// ``release(_:name:)``, running `beforeReturn` on the caller after the thread is started and before the call
    /// returns: a test's seam, where it can wait for `value`'s release on the other thread (which a caller still
    /// holding `value`, or a copy of it, until its return would never see).
    static func release<T>(_ value: consuming sending T, name: String, beforeReturn: () -> Void) -> Bool {
        let box = Locked<T?>(Optional(consume value))
        let started = startIfPossible(name: name) { _ = box.withLock { $0.take() } }
        beforeReturn()
        return started
    }

    /// `pthread_create`'s code for a detached thread running `body` (0: started).
    private static func create(name: String, _ body: @escaping @Sendable () -> Void) -> Int32 {
        assert(isConventional(name), "thread name '\(name)' is not `ss-` and lowercase words, 15 bytes at most")
        let box = Unmanaged.passRetained(Work(body, name: name)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                let work = Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue()
                ss_set_thread_name(work.name)
                work.body()
                return nil
            }, box)
        guard rc == 0 else {
            Unmanaged<Work>.fromOpaque(box).release()
            return rc
        }
        pthread_detach(thread)
        return 0
    }

    private final class Work: Sendable {
        let body: @Sendable () -> Void
        let name: String
        init(_ body: @escaping @Sendable () -> Void, name: String) {
            self.body = body
            self.name = name
        }
    }
}
