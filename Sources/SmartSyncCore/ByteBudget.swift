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

/// Byte counts for messages.
public enum ByteCount {
    /// `1 MiB`, `512 KiB`, `4 GiB`, `1.5 MiB`, `999 bytes`: the unit the count is a whole multiple of when there is
    /// one, else one decimal (rounded down).
    public static func text(_ count: Int) -> String {
        let units: [(Int, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, name) in units where count >= size {
            if count % size == 0 { return "\(count / size) \(name)" }
            return "\(count / size).\(count % size * 10 / size) \(name)"
        }
        return count == 1 ? "1 byte" : "\(count) bytes"
    }
}
