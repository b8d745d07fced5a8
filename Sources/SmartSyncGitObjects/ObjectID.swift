
/// A git object id: the 20-byte SHA-1 of an object's header and content.
///
/// Stored inline (no heap allocation) so millions of ids in a manifest stay cheap.
public struct ObjectID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The raw 20 bytes, as five big-endian words.
    @usableFromInline var w0: UInt32, w1: UInt32, w2: UInt32, w3: UInt32, w4: UInt32

    /// The id of the empty blob (`git hash-object /dev/null`).
    public static let emptyBlob = ObjectID(hex: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")!
    /// The id of the empty tree.
    public static let emptyTree = ObjectID(hex: "4b825dc642cb6eb9a060e54bf8d69288fbee4904")!

    /// Creates an id from exactly 20 raw bytes.
    @inlinable
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 20 else { return nil }
        // Contiguous bytes (an array, a slice of one, a buffer) are read as five big-endian words: this runs for every
        // id of every state and stat cache loaded, and byte by byte through a slice's bounds checks it was 1 % of a
        // no-op's samples.
        if let id = bytes.withContiguousStorageIfAvailable({ b in
            let raw = UnsafeRawBufferPointer(b)
            func word(_ k: Int) -> UInt32 {
                UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self))
            }
            return (word(0), word(1), word(2), word(3), word(4))
        }) {
            (w0, w1, w2, w3, w4) = id
            return
        }
        // Any other collection: big-endian words, with no array in between.
        var words = InlineArray<5, UInt32>(repeating: 0)
        var i = 0
        for b in bytes {
            words[i >> 2] = words[i >> 2] << 8 | UInt32(b)
            i += 1
        }
        (w0, w1, w2, w3, w4) = (words[0], words[1], words[2], words[3], words[4])
    }

    public init?<S: StringProtocol>(hex: S) {
        var words = InlineArray<5, UInt32>(repeating: 0)
        var count = 0
        for c in hex.utf8 {
            guard count < 40, let n = Self.nibble(c) else { return nil }
            words[count >> 3] = words[count >> 3] << 4 | UInt32(n)
            count += 1
        }
        guard count == 40 else { return nil }
        (w0, w1, w2, w3, w4) = (words[0], words[1], words[2], words[3], words[4])
    }

    @inline(__always)
    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The 20 raw bytes.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(20)
        for w in [w0, w1, w2, w3, w4] {
            out.append(UInt8(truncatingIfNeeded: w >> 24))
            out.append(UInt8(truncatingIfNeeded: w >> 16))
            out.append(UInt8(truncatingIfNeeded: w >> 8))
            out.append(UInt8(truncatingIfNeeded: w))
        }
        return out
    }

    /// Appends the 20 raw bytes to `out` (no array of their own: tree encoding and state files write one per entry).
    @inlinable
    public func append(to out: inout [UInt8]) {
        Self.appendWord(w0, to: &out)
        Self.appendWord(w1, to: &out)
        Self.appendWord(w2, to: &out)
        Self.appendWord(w3, to: &out)
        Self.appendWord(w4, to: &out)
    }

    /// Stores the 20 raw bytes at `out` (no alignment needed): state files write one per entry through a raw pointer.
    @inlinable
    public func store(to out: UnsafeMutableRawPointer) {
        out.storeBytes(of: w0.bigEndian, as: UInt32.self)
        out.storeBytes(of: w1.bigEndian, toByteOffset: 4, as: UInt32.self)
        out.storeBytes(of: w2.bigEndian, toByteOffset: 8, as: UInt32.self)
        out.storeBytes(of: w3.bigEndian, toByteOffset: 12, as: UInt32.self)
        out.storeBytes(of: w4.bigEndian, toByteOffset: 16, as: UInt32.self)
    }

    @inlinable
    static func appendWord(_ w: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: w >> 24))
        out.append(UInt8(truncatingIfNeeded: w >> 16))
        out.append(UInt8(truncatingIfNeeded: w >> 8))
        out.append(UInt8(truncatingIfNeeded: w))
    }

    /// Lower-case hexadecimal, 40 characters.
    public var hex: String {
        let words: InlineArray<5, UInt32> = [w0, w1, w2, w3, w4]
        return String(unsafeUninitializedCapacity: 40) { out in
            for i in 0..<40 {
                let n = UInt8(truncatingIfNeeded: words[i >> 3] >> UInt32(28 - (i & 7) * 4)) & 0xF
                out[i] = n < 10 ? UInt8(ascii: "0") + n : UInt8(ascii: "a") + n - 10
            }
            return 40
        }
    }

    public var description: String { hex }

    /// The first `n` hex digits, for display.
    public func abbreviated(_ n: Int = 12) -> String { String(hex.prefix(n)) }

    public static func < (a: ObjectID, b: ObjectID) -> Bool {
        (a.w0, a.w1, a.w2, a.w3, a.w4) < (b.w0, b.w1, b.w2, b.w3, b.w4)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let id = ObjectID(hex: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a 40-digit object id: \(s)")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}
