import Synchronization

/// A number of bytes that several parts of one run draw from together, such as what a run may add to the store
/// (`--max-download`): pack imports and per-blob downloads on their own threads take from the same budget.
public final class ByteBudget: Sendable {
    /// The most bytes that may be taken in all.
    public let limit: Int
    private let taken = Mutex(0)

    /// A budget of `limit` bytes (at least 0).
    public init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Takes `count` bytes when that stays within the limit; otherwise takes nothing and returns false.
    public func take(_ count: Int) -> Bool {
        taken.withLock { used in
            guard count >= 0, count <= limit - used else { return false }
            used += count
            return true
        }
    }

    /// Bytes taken so far.
    public var used: Int { taken.withLock { $0 } }

    /// Bytes that may still be taken.
    public var remaining: Int { limit - used }
}
