import Glibc

/// A map from ``TreePath`` to `Value` held as two arrays sorted by path bytes (git's and `LC_ALL=C sort`'s order):
/// one allocation per array instead of a hash table's buckets, no hashing, and two tables are compared, joined or
/// merged in one linear pass (``mergeJoin(_:_:)``) instead of a lookup per path.
///
/// It reads like a dictionary (`table[path]`, `for (path, value) in table`, `keys`, `values`, `merging`), in path
/// order. A lookup is a binary search; setting a path appends in O(1) when it sorts after the last one (building a
/// table in path order) and inserts or removes in O(n) otherwise, so large tables are built with
/// ``init(sorting:)`` or in order, never by random inserts.
public struct PathTable<Value>: RandomAccessCollection {
    // Everything here is `@inlinable`: a generic type of another module runs unspecialized otherwise, and reading a
    // large `Value` through the unspecialized collection accessors allocates (a coroutine frame per element read).
    @usableFromInline var _keys: [TreePath]
    @usableFromInline var _values: [Value]

    /// The paths, strictly increasing by bytes.
    @inlinable public var keys: [TreePath] { _keys }
    /// The values, `values[i]` belonging to `keys[i]`.
    @inlinable public var values: [Value] { _values }

    public typealias Element = (key: TreePath, value: Value)

    /// An empty table.
    @inlinable public init() {
        _keys = []
        _values = []
    }

    /// A table of `pairs` in any order; on a repeated path the last pair wins.
    @inlinable public init<S: Sequence>(sorting pairs: S) where S.Element == (TreePath, Value) {
        let all = Array(pairs)
        var keys: [TreePath] = []
        var values: [Value] = []
        keys.reserveCapacity(all.count)
        values.reserveCapacity(all.count)
        // Already in order (a table's output, a manifest): no sort.
        let sorted = all.withUnsafeBufferPointer { b in
            Self.isStrictlyIncreasing(count: b.count) { b[$0 - 1].0.compare(b[$0].0) }
        }
        if sorted {
            for pair in all {
                keys.append(pair.0)
                values.append(pair.1)
            }
        } else {
            // Stable, so "the last pair wins" holds: sorted through indices (a value may be large to move).
            let order = all.indices.sorted { a, b in
                let order = all[a].0.compare(all[b].0)
                return order < 0 || (order == 0 && a < b)
            }
            for i in order {
                if let last = keys.last, last == all[i].0 {
                    values[values.count - 1] = all[i].1
                } else {
                    keys.append(all[i].0)
                    values.append(all[i].1)
                }
            }
        }
        self._keys = keys
        self._values = values
    }

    /// A table of keys already strictly increasing (checked) and their values; nil when they are not.
    @inlinable public init?(sortedKeys keys: [TreePath], values: [Value]) {
        guard keys.count == values.count, Self.isStrictlyIncreasing(keys) else { return nil }
        self._keys = keys
        self._values = values
    }

    /// A table of keys its maker has found strictly increasing by other means (a reader that compared their bytes
    /// where they lay: ``isStrictlyIncreasing(_:)`` again would chase every path's storage once more). Counts must
    /// match (a precondition); order is the caller's word, checked in debug builds.
    @inlinable public init(keysInOrder keys: [TreePath], values: [Value]) {
        precondition(keys.count == values.count, "PathTable: as many keys as values")
        assert(Self.isStrictlyIncreasing(keys), "PathTable(keysInOrder:) out of order")
        self._keys = keys
        self._values = values
    }

    /// Whether `keys` is strictly increasing by bytes (what a table holds).
    @inlinable public static func isStrictlyIncreasing(_ keys: [TreePath]) -> Bool {
        keys.withUnsafeBufferPointer { b in isStrictlyIncreasing(count: b.count) { b[$0 - 1].compare(b[$0]) } }
    }

    // Each path is compared where it lies (inlined, specialized where it is called): through a closure returning
    // the path, every comparison retained and released both (unspecialized, it copied out a whole scan entry), 3 % of
    // a no-op's CPU at 20,000 files.
    @inlinable static func isStrictlyIncreasing(count: Int, _ compareWithPrevious: (Int) -> Int) -> Bool {
        var i = 1
        while i < count {
            if compareWithPrevious(i) >= 0 { return false }
            i += 1
        }
        return true
    }

    @inlinable public mutating func reserveCapacity(_ n: Int) {
        _keys.reserveCapacity(n)
        _values.reserveCapacity(n)
    }

    // MARK: Collection

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { _keys.count }
    @inlinable public subscript(position: Int) -> Element { (_keys[position], _values[position]) }

    // MARK: Lookup

    /// Where `path` is, or where it would go.
    @inlinable public func search(_ path: TreePath) -> (found: Bool, index: Int) {
        // Appending in order (the common case when building) is answered without a search.
        if let last = _keys.last, last < path { return (false, _keys.count) }
        var low = 0
        var high = _keys.count
        while low < high {
            let mid = (low + high) >> 1
            if _keys[mid] < path {
                low = mid + 1
            } else {
                high = mid
            }
        }
        return (low < _keys.count && _keys[low] == path, low)
    }

    /// The index of `path`, nil when absent.
    @inlinable public func index(of path: TreePath) -> Int? {
        let (found, i) = search(path)
        return found ? i : nil
    }

    /// The value at `path`; setting nil removes it.
    @inlinable public subscript(path: TreePath) -> Value? {
        get {
            let (found, i) = search(path)
            return found ? _values[i] : nil
        }
        set {
            let (found, i) = search(path)
            switch (found, newValue) {
            case (true, let v?): _values[i] = v
            case (true, nil):
                _keys.remove(at: i)
                _values.remove(at: i)
            case (false, let v?):
                _keys.insert(path, at: i)
                _values.insert(v, at: i)
            case (false, nil): break
            }
        }
    }

    /// Appends a path that sorts after every path held (checked: a precondition).
    @inlinable public mutating func append(_ path: TreePath, _ value: Value) {
        precondition(_keys.last.map { $0 < path } ?? true, "PathTable.append out of order")
        _keys.append(path)
        _values.append(value)
    }

    /// The indices of `directory`'s descendants (`dir/…`, contiguous in byte order; the whole table for the root).
    @inlinable public func descendants(of directory: TreePath) -> Range<Int> {
        if directory.isEmpty { return 0..<_keys.count }
        // Every path from "dir/" up to (not including) "dir0" ('0' is the byte after '/') is below dir, and only those.
        let bytes = directory.bytes
        let lower = search(TreePath(bytes: bytes + [0x2F])).index
        let upper = search(TreePath(bytes: bytes + [0x30])).index
        return lower..<Swift.max(lower, upper)
    }

    /// Both tables' entries, `other` winning on a shared path (or `combine` deciding), in one merge.
    @inlinable public func merging(_ other: PathTable<Value>, uniquingKeysWith combine: (Value, Value) throws -> Value)
        rethrows
        -> PathTable<Value>
    {
        var out = PathTable()
        out.reserveCapacity(count + other.count)
        for pair in mergeJoin(self, other) {
            switch pair {
            case .left(let i): out._keys.append(_keys[i]); out._values.append(_values[i])
            case .right(let j): out._keys.append(other._keys[j]); out._values.append(other._values[j])
            case .both(let i, let j):
                out._keys.append(_keys[i]); out._values.append(try combine(_values[i], other._values[j]))
            }
        }
        return out
    }

    /// The entries whose value passes `isIncluded`, still a table.
    @inlinable public func filterTable(_ isIncluded: (TreePath, Value) throws -> Bool) rethrows -> PathTable<Value> {
        var out = PathTable()
        for i in _keys.indices where try isIncluded(_keys[i], _values[i]) {
            out._keys.append(_keys[i])
            out._values.append(_values[i])
        }
        return out
    }
}

extension PathTable {
    /// Looks paths up in a table in increasing order, in one forward pass over it (a merge join, one path at a time).
    public struct Cursor {
        public let table: PathTable
        @usableFromInline var next = 0

        @inlinable public init(_ table: PathTable) { self.table = table }

        /// A cursor whose first look starts at index `start` (found once, by ``search(_:)`` or
        /// ``descendants(of:)``): each part of a walk shared out by subtree reads its own range forward.
        @inlinable public init(_ table: PathTable, from start: Int) {
            self.table = table
            next = Swift.max(0, Swift.min(start, table._keys.count))
        }

        /// Where the next look starts: every path before it has been passed.
        @inlinable public var position: Int { next }

        /// The value at `path`. Each call's path must sort after the previous call's (else it reads as absent).
        @inlinable public mutating func seek(_ path: TreePath) -> Value? {
            path.withBytes { seekIndex(bytes: $0) }.map { table._values[$0] }
        }

        /// The index of the path whose bytes are `bytes` (a path not yet built: a walk's `prefix/name`), nil when
        /// absent; looking forward only, as ``seek(_:)``.
        @inlinable public mutating func seekIndex(bytes: UnsafeBufferPointer<UInt8>) -> Int? {
            let keys = table._keys
            while next < keys.count {
                let order = keys[next].compare(bytes: bytes)
                if order > 0 { return nil }
                next += 1
                if order == 0 { return next - 1 }
            }
            return nil
        }

        /// Whether the table holds a path below `directory` (`directory/…`), looking forward only: `directory/`
        /// must sort after every earlier call's path, and the paths sought next may be `directory`'s own (nothing
        /// from `directory/` on is passed over). A depth-first walk in byte order asks this as it reaches a
        /// directory's contents.
        @inlinable public mutating func hasDescendants(of directory: TreePath) -> Bool {
            let keys = table._keys
            return directory.withBytes { d in
                if d.isEmpty { return next < keys.count }  // the root: every path is below it
                while next < keys.count {
                    // The key against `directory/`: below it, or at or past it (and then whether it starts with it).
                    let (order, below) = keys[next].withBytes { k -> (Int, Bool) in
                        let common = Swift.min(k.count, d.count)
                        let c = common == 0 ? 0 : Int(memcmp(k.baseAddress!, d.baseAddress!, common))
                        if c != 0 { return (c, false) }
                        if k.count <= d.count { return (-1, false) }
                        return (Int(k[d.count]) - 0x2F, k[d.count] == 0x2F)
                    }
                    if order >= 0 { return below }
                    next += 1
                }
                return false
            }
        }
    }
}

extension PathTable: ExpressibleByDictionaryLiteral {
    @inlinable public init(dictionaryLiteral elements: (TreePath, Value)...) { self.init(sorting: elements) }
}

extension PathTable: Sendable where Value: Sendable {}
extension PathTable: Equatable where Value: Equatable {
    @inlinable public static func == (a: PathTable, b: PathTable) -> Bool { a.keys == b.keys && a.values == b.values }
}
extension PathTable: Hashable where Value: Hashable {
    @inlinable public func hash(into hasher: inout Hasher) {
        hasher.combine(keys)
        hasher.combine(values)
    }
}

extension TreePath {
    /// Byte order as one comparison: negative when `self` sorts first, 0 when equal, positive when after.
    @inlinable public func compare(_ other: TreePath) -> Int {
        other.withBytes { compare(bytes: $0) }
    }

    /// ``compare(_:)`` against a path's bytes.
    @inlinable public func compare(bytes y: UnsafeBufferPointer<UInt8>) -> Int {
        withBytes { x in
            // The very bytes (a path compared with one sharing its storage: the listing, the scan, the stat cache and
            // the manifest of a no-op hold one storage a path): equal, their memory not read.
            if x.baseAddress == y.baseAddress && x.count == y.count { return 0 }
            let common = Swift.min(x.count, y.count)
            let order = common == 0 ? 0 : Int(memcmp(x.baseAddress!, y.baseAddress!, common))
            return order != 0 ? order : x.count - y.count
        }
    }
}

extension PathTable: Codable where Value: Codable {
    /// Encoded as a `[TreePath: Value]` dictionary is (its keys are not strings): `[path, value, path, value, …]`.
    @inlinable public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        var pairs: [(TreePath, Value)] = []
        while !c.isAtEnd {
            let path = try c.decode(TreePath.self)
            pairs.append((path, try c.decode(Value.self)))
        }
        self.init(sorting: pairs)
    }

    @inlinable public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        for i in keys.indices {
            try c.encode(keys[i])
            try c.encode(values[i])
        }
    }
}
