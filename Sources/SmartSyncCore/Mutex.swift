import Glibc

/// A pthread mutex. (The standard library's `Synchronization.Mutex` needs newer Apple OS versions; this one
/// works everywhere the package builds.)
public final class Mutex: @unchecked Sendable {
    // @unchecked: the pthread mutex itself provides the synchronization.
    private let m: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        m = .allocate(capacity: 1)
        pthread_mutex_init(m, nil)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }

    /// Runs `body` with the mutex held.
    @inlinable
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    @usableFromInline func lock() { pthread_mutex_lock(m) }
    @usableFromInline func unlock() { pthread_mutex_unlock(m) }
}

/// A value guarded by a ``Mutex``.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: every access to `value` goes through the mutex.
    private let mutex = Mutex()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    /// Reads or mutates the value with the mutex held.
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try mutex.withLock { try body(&value) }
    }
}
