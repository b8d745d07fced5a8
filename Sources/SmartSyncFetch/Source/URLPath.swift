import SmartSyncGitObjects
/// Percent-encoding for URL path segments.
enum URLPath {
    /// Encodes one segment: everything but RFC 3986's unreserved characters becomes `%XX`.
    static func encodeSegment(_ s: some StringProtocol) -> String { encodeSegment(bytes: s.utf8) }

    /// Encodes one segment given as bytes.
    static func encodeSegment(bytes: some Collection<UInt8>) -> String {
        var out = ""
        out.reserveCapacity(bytes.count)
        for b in bytes {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b & 0xF)]))
            }
        }
        return out
    }

    /// Encodes each `/`-separated segment of a tree path (its bytes, whatever their encoding), keeping the slashes.
    static func encodePath(_ path: TreePath) -> String {
        path.components.map { encodeSegment(bytes: $0.bytes) }.joined(separator: "/")
    }
}
