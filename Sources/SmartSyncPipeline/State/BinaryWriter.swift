import SmartSyncGitObjects

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

    mutating func append(_ id: ObjectID) { id.append(to: &bytes) }

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
