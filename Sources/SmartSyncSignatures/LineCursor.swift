/// Walks one line of an allowed-signers file the way OpenSSH's `strdelimw`, `sshkey_read` and
/// `sshkey_advance_past_options` do.
struct LineCursor {
    private let bytes: [UInt8]
    /// The next byte to read.
    var position: Int = 0

    init(_ line: Substring) { bytes = Array(line.utf8) }

    var isAtEnd: Bool { position == bytes.count }
    var peek: UInt8? { isAtEnd ? nil : bytes[position] }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    mutating func skipSpace() {
        while let byte = peek, Self.isSpace(byte) { position += 1 }
    }

    /// The bytes up to the next space (or the end).
    mutating func word() -> String {
        let start = position
        while let byte = peek, !Self.isSpace(byte) { position += 1 }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// The principals field (`strdelimw`): up to a space, or, at a double quote, what the quotes enclose joined to
    /// what came before it. Nil for an unterminated quote.
    mutating func principalsToken() -> String? {
        let start = position
        while let byte = peek, !Self.isSpace(byte), byte != UInt8(ascii: "\"") { position += 1 }
        var token = Array(bytes[start..<position])
        if peek == UInt8(ascii: "\"") {
            position += 1
            guard let close = bytes[position...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
            token += bytes[position..<close]
            position = close + 1
        }
        return String(decoding: token, as: UTF8.self)
    }

    /// The options field (`sshkey_advance_past_options`): up to a space outside double quotes (`\"` does not
    /// close them). Nil for an unterminated quote.
    mutating func optionsToken() -> String? {
        let start = position
        var quoted = false
        while let byte = peek, quoted || !Self.isSpace(byte) {
            if byte == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "\"") {
                position += 1
            } else if byte == UInt8(ascii: "\"") {
                quoted.toggle()
            }
            position += 1
        }
        guard !quoted else { return nil }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }
}
