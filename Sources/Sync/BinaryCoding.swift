import GitObjects

/// A little-endian writer for the compact state formats (stat cache, manifest, target state).
///
/// Every file is `magic (4 bytes) | version (u32) | body | SHA-1 of everything before it (20 bytes)`,
/// so a torn or corrupted file is detected and treated as absent rather than trusted.
struct BinaryWriter {
    private(set) var bytes: [UInt8] = []

    init(magic: StaticString, version: UInt32, reserve: Int = 0) {
        bytes.reserveCapacity(reserve + 48)
        magic.withUTF8Buffer { bytes.append(contentsOf: $0) }
        append(version)
    }

    mutating func append(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ v: Int64) { append(UInt64(bitPattern: v)) }

    mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            append(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func append(_ id: ObjectID) { bytes.append(contentsOf: id.bytes) }

    /// A path as its bytes (the same encoding as a `String`'s UTF-8, so earlier files read the same).
    mutating func append(_ path: TreePath) {
        path.withBytes { raw in
            append(UInt32(raw.count))
            bytes.append(contentsOf: raw)
        }
    }

    /// Appends the trailing checksum and returns the finished file.
    consuming func finish() -> [UInt8] {
        let digest = SHA1Hasher()
        digest.update(bytes)
        bytes.append(contentsOf: digest.finalize().bytes)
        return bytes
    }
}

/// Reads what ``BinaryWriter`` wrote. Every accessor returns nil past the end instead of trapping.
struct BinaryReader {
    private let bytes: [UInt8]
    private var offset: Int
    private let end: Int

    /// Checks magic, version and checksum; nil when any of them is wrong.
    init?(_ bytes: [UInt8], magic: StaticString, version: UInt32) {
        let magicBytes = magic.withUTF8Buffer { Array($0) }
        guard bytes.count >= magicBytes.count + 4 + 20 else { return nil }
        guard bytes.prefix(magicBytes.count).elementsEqual(magicBytes) else { return nil }
        let digest = SHA1Hasher()
        digest.update(bytes[..<(bytes.count - 20)])
        guard digest.finalize().bytes.elementsEqual(bytes[(bytes.count - 20)...]) else { return nil }
        self.bytes = bytes
        self.offset = magicBytes.count
        self.end = bytes.count - 20
        guard readUInt32() == version else { return nil }
    }

    var isAtEnd: Bool { offset == end }

    mutating func readUInt32() -> UInt32? {
        guard end - offset >= 4 else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    mutating func readUInt64() -> UInt64? {
        guard end - offset >= 8 else { return nil }
        let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
        offset += 8
        return UInt64(littleEndian: v)
    }

    mutating func readInt64() -> Int64? { readUInt64().map { Int64(bitPattern: $0) } }

    mutating func readString() -> String? {
        guard let n = readUInt32().map(Int.init), end - offset >= n else { return nil }
        let s = bytes.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[offset..<(offset + n)]), as: UTF8.self)
        }
        offset += n
        return s
    }

    mutating func readPath() -> TreePath? {
        guard let n = readUInt32().map(Int.init), end - offset >= n else { return nil }
        let path = TreePath(bytes: bytes[offset..<(offset + n)])
        offset += n
        return path
    }

    mutating func readID() -> ObjectID? {
        guard end - offset >= 20 else { return nil }
        let id = ObjectID(bytes: bytes[offset..<(offset + 20)])
        offset += 20
        return id
    }
}
