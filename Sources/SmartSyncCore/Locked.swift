import Synchronization

/// A value behind a `Synchronization.Mutex`, in a box that closures, callers and copies of a struct share.
///
/// `Mutex` is `~Copyable`: a `let` property of a final class holds one directly, with no box, and that is what
/// the classes of this package do. `Locked` is for the places a `Mutex` cannot go: a local that several
/// (escaping, concurrent) closures capture, a parameter, or a property of a copyable struct whose copies must see
/// one value. One allocation: the mutex lives inline in the box.
public final class Locked<Value>: Sendable {
    @usableFromInline let mutex: Mutex<Value>

    public init(_ value: sending Value) { mutex = Mutex(value) }

    /// Reads or mutates the value with the mutex held.
    @inlinable
    public func withLock<Result, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        try mutex.withLock(body)
    }
}
