import Glibc
import SmartSyncGitObjects

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

    /// A path, as ``readPath()``, but when `shared` (strictly increasing, read forward from `next` as the file's paths
    /// increase) holds the same bytes, that path itself: no new storage. Files written in path order (state, stat
    /// cache) read this way share one `TreePath` per path with the table that was read first.
    mutating func readPath(sharing shared: [TreePath], from next: inout Int) -> TreePath? {
        guard let n = readUInt32().map(Int.init), end - offset >= n else { return nil }
        let start = offset
        offset += n
        let found = bytes.withUnsafeBufferPointer { all -> Int? in
            let raw = UnsafeBufferPointer(rebasing: all[start..<(start + n)])
            while next < shared.count {
                let order = byteOrder(shared[next], raw)
                if order > 0 { return nil }
                next += 1
                if order == 0 { return next - 1 }
            }
            return nil
        }
        if let found { return shared[found] }
        return TreePath(bytes: bytes[start..<(start + n)])
    }

    mutating func readID() -> ObjectID? {
        guard end - offset >= 20 else { return nil }
        let id = ObjectID(bytes: bytes[offset..<(offset + 20)])
        offset += 20
        return id
    }
}

/// Byte order of a path and raw bytes: negative when `path` sorts first, 0 when they are the same bytes.
@inline(__always)
func byteOrder(_ path: TreePath, _ raw: UnsafeBufferPointer<UInt8>) -> Int {
    path.withBytes { key in
        let common = min(key.count, raw.count)
        let c = common == 0 ? 0 : Int(memcmp(key.baseAddress!, raw.baseAddress!, common))
        return c != 0 ? c : key.count - raw.count
    }
}
