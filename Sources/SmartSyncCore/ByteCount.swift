/// A number of bytes as options and config files write it, parsed in one place: `4096`, `500K`, `1.5M`, `4G`, `1T`
/// (suffixes are powers of 1024, either case). Zero, negative and non-finite counts are refused: every option that
/// takes one (`--limit-rate`, `--min-speed`, `--max-download`, `--pack-blob-limit`, `--max-size`, `max_size`) means
/// a positive amount.
public struct ByteCount: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: Int

    public init(_ bytes: Int) { self.bytes = bytes }

    private static let suffixes: [Character: Double] = [
        "K": 0x400, "M": 0x10_0000, "G": 0x4000_0000, "T": 0x100_0000_0000,
    ]

    /// Reads `text` (surrounding spaces ignored); nil for anything that is not a positive byte count.
    public init?(parsing text: String) {
        var digits = Substring(text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        var multiplier = 1.0
        if let last = digits.last, let m = Self.suffixes[Character(last.uppercased())] {
            multiplier = m
            digits = digits.dropLast()
        }
        guard digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let value = Double(digits) else {
            return nil
        }
        let bytes = value * multiplier
        guard bytes >= 1, bytes < Double(Int.max) else { return nil }
        self.bytes = Int(bytes)
    }

    /// As an option would write it: `512K`, `4G`, or plain bytes when no suffix is exact.
    public var argument: String {
        for (suffix, size) in [("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(suffix)"
        }
        return "\(bytes)"
    }

    /// For messages: ``text(_:)``.
    public var description: String { Self.text(bytes) }

    public static func < (a: ByteCount, b: ByteCount) -> Bool { a.bytes < b.bytes }

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
