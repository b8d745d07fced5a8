/// Writes the SSH wire encoding (RFC 4251 §5), for the data a signature covers (and, in tests, crafted blobs).
struct SSHWireWriter {
    private(set) var bytes: [UInt8] = []

    /// Bytes as they are.
    mutating func raw<C: Collection>(_ data: C) where C.Element == UInt8 { bytes.append(contentsOf: data) }

    /// A `string`: a `uint32` length, then the bytes.
    mutating func string<C: Collection>(_ data: C) where C.Element == UInt8 {
        let count = UInt32(data.count)
        bytes.append(contentsOf: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: count >> $0) })
        bytes.append(contentsOf: data)
    }
}
