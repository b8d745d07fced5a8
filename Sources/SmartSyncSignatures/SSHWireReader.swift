/// Reads the SSH wire encoding (RFC 4251 §5): `uint32`, `string` (a length and bytes) and `mpint`.
///
/// Every read returns nil when the input is too short or malformed; callers turn that into an error naming what
/// they were reading.
struct SSHWireReader {
    private let bytes: [UInt8]
    private var offset: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
    }

    /// Whether every byte has been read.
    var isAtEnd: Bool { offset == bytes.count }

    /// Consumes `prefix` when the input continues with it.
    mutating func consume(_ prefix: [UInt8]) -> Bool {
        guard bytes.count - offset >= prefix.count, bytes[offset..<offset + prefix.count].elementsEqual(prefix)
        else { return false }
        offset += prefix.count
        return true
    }

    mutating func uint32() -> UInt32? {
        guard bytes.count - offset >= 4 else { return nil }
        var value: UInt32 = 0
        for byte in bytes[offset..<offset + 4] { value = value << 8 | UInt32(byte) }
        offset += 4
        return value
    }

    /// A `string`: its bytes.
    mutating func string() -> [UInt8]? {
        let start = offset
        guard let length = uint32(), Int(length) <= bytes.count - offset else {
            offset = start
            return nil
        }
        defer { offset += Int(length) }
        return Array(bytes[offset..<offset + Int(length)])
    }

    /// A `string` that must be UTF-8 text without NUL (a name, a namespace).
    mutating func text() -> String? {
        guard let raw = string(), !raw.contains(0) else { return nil }
        return String(validating: raw, as: UTF8.self)
    }

    /// A non-negative `mpint`, as its minimal big-endian magnitude; nil for a negative or non-minimal encoding, as
    /// OpenSSH refuses them.
    mutating func positiveMPInt() -> [UInt8]? {
        guard let raw = string() else { return nil }
        guard let first = raw.first else { return [] }
        if first & 0x80 != 0 { return nil }  // negative
        if first == 0 {
            guard raw.count > 1, raw[1] & 0x80 != 0 else { return nil }  // a needless leading zero
            return Array(raw.dropFirst())
        }
        return raw
    }
}
