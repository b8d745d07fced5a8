import SmartSyncCore
import SmartSyncFileSystem

/// An exclusive lock on one target (`flock` on a file in the state directory), so two runs never apply to
/// the same target at once. Released by ``release()`` or when the object is freed; the kernel releases it
/// if the process dies.
public final class TargetLock: Sendable {
    private let lock: FileLock
    /// The target this lock guards.
    public let target: String

    private init(lock: FileLock, target: String) {
        self.lock = lock
        self.target = target
    }

    /// Takes the lock at `path` without waiting. Throws `.locked` naming the target and the holder's PID.
    public static func acquire(path: String, target: String) throws -> TargetLock {
        TargetLock(lock: try FileLock.acquire(path: path, what: "the target '\(target)'"), target: target)
    }

    /// Releases the lock. Idempotent.
    public func release() { lock.release() }

    deinit { lock.release() }
}

extension StateStore {
    /// The lock one run of `target` needs: nil when `held` (the caller's, e.g. `update`'s for its whole run) already
    /// guards it, otherwise the lock taken now, which the run releases.
    ///
    /// - Throws: `.locked` when another run holds the lock; `.internal` when `held` guards another target.
    func lock(target: String, unlessHeld held: TargetLock?) throws -> TargetLock? {
        guard let held else { return try lock(target: target) }
        guard held.target == Self.normalize(target) else {
            throw SmartSyncError(
                .internal, "the lock held for '\(held.target)' was passed to a run of '\(Self.normalize(target))'")
        }
        return nil
    }
}
