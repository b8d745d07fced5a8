import SmartSyncGitObjects

/// A little-endian writer for the compact state formats: the stat cache, the target state (and its manifests), the
/// pin files (`pins/<SHA-1 of the name>`) and a target's excludes file.
///
/// Every file is `magic (4 bytes) | version (u32) | body | SHA-1 of everything before it (20 bytes)`,
/// so a torn or corrupted file is detected and treated as absent rather than trusted.
///
/// Writes through a raw pointer into a buffer it grows itself: ``append(size:_:)`` checks the room once for a whole
/// entry (a path and its fixed fields) and each field's store only against the entry's declared end, so a table of
/// 100,000 entries is written in one pass (a compare and a store or `memcpy` a field), not a capacity and uniqueness
/// check and a copy a field. The SHA-1 trailer is taken over the buffer in one go.
struct BinaryWriter {
    /// The file so far is `storage[..<count]`; past it, room (zeros) for what comes next.
    private var storage: [UInt8]
    private var count = 0

    /// A writer whose file starts with `magic` and `version`, with room for a body of `reserve` bytes (and the
    /// trailer): a body that size is written with no reallocation.
    init(magic: StaticString, version: UInt32, reserve: Int = 0) {
        storage = [UInt8](repeating: 0, count: 8 + reserve + 20)
        magic.withUTF8Buffer { m in append(size: m.count) { $0.put(m) } }
        append(version)
    }

    /// The bytes written so far (a copy).
    var bytes: [UInt8] { Array(storage[..<count]) }

    /// The bytes ``append(_:)-(TreePath)`` writes for each of `paths`, in all.
    private static func size(ofPaths paths: [TreePath]) -> Int {
        var total = 4 * paths.count
        for path in paths { total += path.count }
        return total
    }

    /// Makes room for `size` more bytes and the trailer, so that many are written and ``finish()`` done with no
    /// reallocation.
    mutating func reserve(_ size: Int) {
        if room < size + 20 { grow(toFit: size) }
    }

    /// The bytes that can be written with no reallocation.
    var room: Int { storage.count - count }

    /// Appends `size` bytes, stored by `body` through the cursor it is given, which must put exactly that many: one
    /// room check for them all.
    @inline(__always)
    mutating func append(size: Int, _ body: (inout Cursor) -> Void) {
        if storage.count - count < size { grow(toFit: size) }
        let start = count
        storage.withUnsafeMutableBytes { raw in
            var cursor = Cursor(raw.baseAddress! + start, size: size)
            body(&cursor)
            precondition(cursor.next == raw.baseAddress! + start + size, "BinaryWriter: entry size mismatch")
        }
        count += size
    }

    mutating func append(_ v: UInt32) { append(size: 4) { $0.put(v) } }

    mutating func append(_ v: UInt64) { append(size: 8) { $0.put(v) } }

    mutating func append(_ v: Int64) { append(size: 8) { $0.put(v) } }

    mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in append(size: 4 + utf8.count) { $0.putCounted(utf8) } }
    }

    mutating func append(_ id: ObjectID) { append(size: 20) { $0.put(id) } }

    /// A path as its bytes (the same encoding as a `String`'s UTF-8, so earlier files read the same).
    mutating func append(_ path: TreePath) {
        path.withBytes { raw in append(size: 4 + raw.count) { $0.putCounted(raw) } }
    }

    /// A table: its count (u32), then an entry a path: the path (its length, its bytes) and `fixedSize` bytes of
    /// fields that `put` stores for its value. Room for it all is made once, and an entry is stored in one step.
    @inline(__always)
    mutating func append<Value>(_ table: PathTable<Value>, fixedSize: Int, _ put: (inout Cursor, Value) -> Void) {
        let keys = table.keys, values = table.values
        reserve(4 + Self.size(ofPaths: keys) + fixedSize * keys.count)
        append(UInt32(keys.count))
        for i in keys.indices {
            let value = values[i]
            keys[i].withBytes { path in
                append(size: 4 + path.count + fixedSize) {
                    $0.putCounted(path)
                    put(&$0, value)
                }
            }
        }
    }

    /// Appends the trailing checksum and returns the finished file.
    consuming func finish() -> [UInt8] {
        let digest = SHA1Hasher()
        let body = count
        storage.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<body])) }
        let sum = digest.finalize()
        append(size: 20) { $0.put(sum) }
        if count < storage.count { storage.removeSubrange(count...) }
        return storage
    }

    /// At least doubles the room (zeros past the file), so appends cost amortized constant time.
    @inline(never)
    private mutating func grow(toFit size: Int) {
        let old = storage
        let used = count
        let capacity = Swift.max(2 * old.count, used + size + 20)
        storage = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            old.withUnsafeBufferPointer { o in
                _ = buffer.initialize(fromContentsOf: o[..<used])
            }
            buffer[used...].initialize(repeating: 0)
            initialized = capacity
        }
    }

    /// Where an entry's fields go, one after another (little-endian, unaligned): ``append(size:_:)`` made room for
    /// them all, and each store checks it stays inside the entry's declared size (an entry putting more traps before
    /// writing past it, never over the next entry or past the allocation). Not copyable, so `body` cannot keep a copy
    /// of it (or its pointer) past the append.
    struct Cursor: ~Copyable {
        fileprivate private(set) var next: UnsafeMutableRawPointer
        /// The end of the entry's declared room.
        private let end: UnsafeMutableRawPointer

        fileprivate init(_ start: UnsafeMutableRawPointer, size: Int) {
            next = start
            end = start + size
        }

        /// Traps unless `n` more bytes fit in the entry's declared room.
        @inline(__always)
        private func check(_ n: Int) {
            precondition(end - next >= n, "BinaryWriter: entry writes past its declared size")
        }

        @inline(__always)
        mutating func put(_ v: UInt32) {
            check(4)
            next.storeBytes(of: v.littleEndian, as: UInt32.self)
            next += 4
        }

        @inline(__always)
        mutating func put(_ v: UInt64) {
            check(8)
            next.storeBytes(of: v.littleEndian, as: UInt64.self)
            next += 8
        }

        @inline(__always)
        mutating func put(_ v: Int64) { put(UInt64(bitPattern: v)) }

        /// The id's 20 raw bytes.
        @inline(__always)
        mutating func put(_ id: ObjectID) {
            check(20)
            id.store(to: next)
            next += 20
        }

        /// `bytes` as they are (no length).
        @inline(__always)
        mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
            check(bytes.count)
            if let base = bytes.baseAddress, !bytes.isEmpty { next.copyMemory(from: base, byteCount: bytes.count) }
            next += bytes.count
        }

        /// `bytes` after their length (u32): a string's UTF-8, a path's bytes.
        @inline(__always)
        mutating func putCounted(_ bytes: UnsafeBufferPointer<UInt8>) {
            put(UInt32(bytes.count))
            put(bytes)
        }
    }
}
