/// One step of a merge join of two path-sorted sequences: a path only the left one has, only the right one, or both.
public enum MergeStep: Sendable, Equatable {
    case left(Int)
    case right(Int)
    case both(Int, Int)
}

/// The merge join of two tables (or any two strictly increasing path arrays): every path of either, in order, with
/// its index on each side. Linear; no lookup.
@inlinable public func mergeJoin<A, B>(_ a: PathTable<A>, _ b: PathTable<B>) -> MergeJoin {
    MergeJoin(a.keys, b.keys)
}

/// The sequence of ``MergeStep`` of two strictly increasing path arrays.
public struct MergeJoin: Sequence, IteratorProtocol {
    @usableFromInline let a: [TreePath]
    @usableFromInline let b: [TreePath]
    @usableFromInline var i = 0
    @usableFromInline var j = 0

    @inlinable public init(_ a: [TreePath], _ b: [TreePath]) {
        self.a = a
        self.b = b
    }

    @inlinable public mutating func next() -> MergeStep? {
        if i < a.count, j < b.count {
            let order = a[i].compare(b[j])
            if order == 0 {
                defer { i += 1; j += 1 }
                return .both(i, j)
            }
            if order < 0 {
                defer { i += 1 }
                return .left(i)
            }
            defer { j += 1 }
            return .right(j)
        }
        if i < a.count {
            defer { i += 1 }
            return .left(i)
        }
        if j < b.count {
            defer { j += 1 }
            return .right(j)
        }
        return nil
    }
}
