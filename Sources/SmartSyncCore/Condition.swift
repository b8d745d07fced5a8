import Glibc

/// A lock with a condition variable on it (a pthread mutex and condition), for state that threads outside Swift's
/// concurrency (the curl engine thread, a pack import) wait on: `lock`, test, `wait` until another thread changes the
/// state and calls ``broadcast()``, `unlock`. What Foundation's `NSCondition` did, without Foundation.
public final class Condition: @unchecked Sendable {  // the pointers are set once; pthread guards what they hold
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Takes the lock.
    public func lock() { pthread_mutex_lock(mutex) }

    /// Gives the lock back.
    public func unlock() { pthread_mutex_unlock(mutex) }

    /// With the lock held: gives it up until another thread broadcasts (or spuriously), then holds it again. Callers
    /// wait in a loop on their own predicate.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Wakes every thread waiting in ``wait()``.
    public func broadcast() { pthread_cond_broadcast(condition) }
}
