/// Text from the network (a server's message, a header's value, a listing's field, a path), made safe for a message
/// or a log line: invalid UTF-8, control characters (C0, DEL and C1), bidirectional controls and line separators
/// (which could make a name display as another, or break a log line) and backslashes escaped byte by byte (`\xE9`,
/// `\xe2\x80\xae`, `\\`). The one implementation: `TreePath`'s description calls it.
public enum EscapedText {
    /// `bytes` escaped (see ``EscapedText``).
    public static func escape(bytes: some Collection<UInt8>) -> String {
        let bytes = Array(bytes)
        var out = ""
        var i = 0
        let hex = Array("0123456789abcdef".utf8)
        func escaped(_ b: UInt8) -> String {
            "\\x" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 0xF)]], as: UTF8.self)
        }
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                out += b == 0x5C ? "\\\\" : (b < 0x20 || b == 0x7F) ? escaped(b) : String(UnicodeScalar(b))
                i += 1
                continue
            }
            // The longest valid UTF-8 sequence starting here, else one escaped byte.
            let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            if length > 1, i + length <= bytes.count,
                let scalar = String(validating: bytes[i..<(i + length)], as: UTF8.self),
                !scalar.unicodeScalars.contains(where: hidesText)
            {
                out += scalar
                i += length
            } else {
                out += escaped(b)
                i += 1
            }
        }
        return out
    }

    /// `text` escaped (see ``EscapedText``), whole.
    public static func escape(_ text: some StringProtocol) -> String { escape(bytes: text.utf8) }

    /// Server text for a message: its first `limit` bytes (cut at a character boundary), escaped, then
    /// `…(N bytes more)` when it was longer. Cut before escaping, so an escape is never cut in half.
    public static func excerpt(_ text: some StringProtocol, limit: Int = 200) -> String {
        excerpt(bytes: text.utf8, limit: limit)
    }

    /// Server bytes for a message (a pkt-line, a response body; need not be UTF-8): as ``excerpt(_:limit:)``.
    public static func excerpt(bytes text: some Collection<UInt8>, limit: Int = 200) -> String {
        let total = text.count
        let limit = max(limit, 0)
        guard total > limit else { return escape(bytes: text) }
        let bytes = Array(text.prefix(limit + 1))  // the cut's byte too: is it inside a sequence?
        var cut = limit
        // Not inside a UTF-8 sequence (at most 3 continuation bytes back: a longer run is no character, cut anywhere).
        var back = 0
        while cut > 0, back < 3, bytes[cut] & 0xC0 == 0x80 {
            cut -= 1
            back += 1
        }
        return escape(bytes: bytes[..<cut]) + "…(\(total - cut) bytes more)"
    }

    /// C1 controls, bidirectional controls (U+061C, U+200E/F, U+202A-E, U+2066-9) and the line and paragraph
    /// separators: shown escaped.
    static func hidesText(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x80...0x9F, 0x061C, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
