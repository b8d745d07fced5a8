extension TOMLParser {
    /// A value: string, number, boolean, array or inline table.
    mutating func value(depth: Int = 0) throws -> TOMLValue {
        guard depth < 64 else { throw error("values nest more than 64 deep") }
        guard let c = peek() else { throw error("expected a value, found the end of the file") }
        switch c {
        case UInt8(ascii: "\""): return .string(try basicString())
        case UInt8(ascii: "'"): return .string(try literalString())
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "{"): return try inlineTable(depth: depth)
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "#"):
            throw error("expected a value after '='; write a string in quotes, a number, true/false or [ ... ]")
        default: return try scalar()
        }
    }

    // MARK: - Arrays and inline tables

    private mutating func array(depth: Int) throws -> TOMLValue {
        advance()  // [
        var elements: [TOMLValue] = []
        while true {
            try skipBlankLinesAndComments()
            if peek() == UInt8(ascii: "]") {
                advance()
                return .array(elements)
            }
            elements.append(try value(depth: depth + 1))
            try skipBlankLinesAndComments()
            guard let c = peek() else { throw error("the array is not closed; add ']'") }
            if c == UInt8(ascii: ",") {
                advance()
            } else if c != UInt8(ascii: "]") {
                throw error("expected ',' or ']' in the array, found \(describe(c))")
            }
        }
    }

    private mutating func skipBlankLinesAndComments() throws {
        while true {
            skipBlank()
            skipComment()
            guard let c = peek(), c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") else { return }
            try newline()
        }
    }

    private mutating func inlineTable(depth: Int) throws -> TOMLValue {
        var table = TOMLTable(position: position)
        advance()  // {
        skipBlank()
        if peek() == UInt8(ascii: "}") {
            advance()
            return .table(table)
        }
        while true {
            let start = position
            let path = try key()
            skipBlank()
            try expect("=", "'=' after the key")
            skipBlank()
            let v = try value(depth: depth + 1)
            guard path.count == 1 else { throw error("dotted keys are not supported in inline tables", at: start) }
            guard !table.contains(path[0]) else { throw error("key '\(path[0])' appears twice", at: start) }
            table.set(path[0], v, at: start)
            skipBlank()
            guard let c = peek() else { throw error("the inline table is not closed; add '}'") }
            guard c == UInt8(ascii: ",") || c == UInt8(ascii: "}") else {
                throw error(
                    "expected ',' or '}' in the inline table (which must fit on one line), found \(describe(c))")
            }
            advance()
            if c == UInt8(ascii: "}") { return .table(table) }
            skipBlank()
        }
    }

    // MARK: - Strings

    /// Consumes an opening quote (or three, and a newline right after them); returns where the string starts
    /// and whether it is multi-line.
    private mutating func openString(quote: UInt8) throws -> (start: TOMLPosition, multiline: Bool) {
        let multiline = peek(1) == quote && peek(2) == quote
        let start = position
        advance()
        if multiline {
            advance()
            advance()
            try trimFirstNewline()
        }
        return (start, multiline)
    }

    /// `"..."` or `"""..."""`, with escapes.
    mutating func basicString() throws -> String { try string(quote: UInt8(ascii: "\""), escapes: true) }

    /// `'...'` or `'''...'''`, taken literally.
    mutating func literalString() throws -> String { try string(quote: UInt8(ascii: "'"), escapes: false) }

    /// A string opened by `quote` (once or three times): basic strings take escapes, literal ones do not.
    private mutating func string(quote: UInt8, escapes: Bool) throws -> String {
        let (start, multiline) = try openString(quote: quote)
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw error("the string is not closed", at: start) }
            if c == quote {
                if !multiline {
                    advance()
                    break
                }
                if try closeMultiline(quote: c, into: &out) { break }
                continue
            }
            if escapes && c == UInt8(ascii: "\\") {
                advance()
                if multiline, try skipLineEndingBackslash() { continue }
                try escape(into: &out)
                continue
            }
            try checkStringByte(c, multiline: multiline)
            if c == UInt8(ascii: "\r") { try newline(); out.append(UInt8(ascii: "\n")); continue }
            out.append(c)
            advance()
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func trimFirstNewline() throws {
        if let c = peek(), c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") { try newline() }
    }

    /// At a quote inside a multi-line string: three or more end it (up to two extra are content).
    private mutating func closeMultiline(quote: UInt8, into out: inout [UInt8]) throws -> Bool {
        var run = 0
        while peek(run) == quote { run += 1 }
        if run < 3 {
            for _ in 0..<run {
                out.append(quote)
                advance()
            }
            return false
        }
        guard run <= 5 else { throw error("too many quotes in a row at the end of a multi-line string") }
        for _ in 0..<(run - 3) { out.append(quote) }
        for _ in 0..<run { advance() }
        return true
    }

    /// In a multi-line basic string, `\` at the end of a line swallows the line break and following whitespace.
    private mutating func skipLineEndingBackslash() throws -> Bool {
        var look = 0
        while let c = peek(look), c == 0x20 || c == 0x09 { look += 1 }
        guard let c = peek(look), c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") else { return false }
        while let c = peek(), c == 0x20 || c == 0x09 || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
            if c == UInt8(ascii: "\r") { try newline() } else { advance() }
        }
        return true
    }

    private func checkStringByte(_ c: UInt8, multiline: Bool) throws {
        if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
            guard multiline else {
                throw error("the string is not closed before the end of the line; add the closing quote")
            }
            return
        }
        if (c < 0x20 && c != 0x09) || c == 0x7F {
            throw error("control character 0x\(String(c, radix: 16)) in a string; write it as an escape")
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws {
        let at = TOMLPosition(line: line, column: column - 1)
        guard let c = peek() else { throw error("the string is not closed") }
        advance()
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "t"): 0x09, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "f"): 0x0C,
            UInt8(ascii: "r"): 0x0D, UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "e"): 0x1B,
        ]
        if let byte = simple[c] {
            out.append(byte)
            return
        }
        let digits: Int
        switch c {
        case UInt8(ascii: "u"): digits = 4
        case UInt8(ascii: "U"): digits = 8
        default:
            throw error(
                "unknown escape '\\\(Character(UnicodeScalar(c)))'; use \\\\ for a backslash, or a 'literal string'",
                at: at)
        }
        var hex: [UInt8] = []
        for _ in 0..<digits {
            guard let h = peek(), (h >= 0x30 && h <= 0x39) || (h | 0x20 >= 0x61 && h | 0x20 <= 0x66) else {
                throw error("\\\(Character(UnicodeScalar(c))) needs \(digits) hex digits", at: at)
            }
            hex.append(h)
            advance()
        }
        guard let code = UInt32(String(decoding: hex, as: UTF8.self), radix: 16), let scalar = Unicode.Scalar(code)
        else {
            throw error(
                "\\\(Character(UnicodeScalar(c)))\(String(decoding: hex, as: UTF8.self)) is not a Unicode scalar value",
                at: at)
        }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    // MARK: - Scalars

    private mutating func scalar() throws -> TOMLValue {
        let start = position
        var token: [UInt8] = []
        while let c = peek(),
            Self.isBareKeyByte(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: ":")
        {
            token.append(c)
            advance()
        }
        let text = String(decoding: token, as: UTF8.self)
        if text.isEmpty {
            throw error(
                "expected a value, found \(peek().map(describe) ?? "the end of the file"); quote strings", at: start)
        }
        if text == "true" { return .boolean(true) }
        if text == "false" { return .boolean(false) }
        if let value = Self.number(text) { return value }
        if text.contains(":") || (token.count >= 10 && token[4] == UInt8(ascii: "-") && token[7] == UInt8(ascii: "-")) {
            throw error("dates and times are not supported here; write \"\(text)\" as a string", at: start)
        }
        throw error("'\(text)' is not a value; quote strings (\"\(text)\"), booleans are true/false", at: start)
    }

    /// A TOML integer or float, or nil when `text` is neither.
    static func number(_ text: String) -> TOMLValue? {
        var body = Substring(text)
        var negative = false
        if let first = body.first, first == "+" || first == "-" {
            negative = first == "-"
            body = body.dropFirst()
        }
        switch body {
        case "inf": return .float(negative ? -.infinity : .infinity)
        case "nan": return .float(.nan)
        default: break
        }
        if body.hasPrefix("0x") || body.hasPrefix("0o") || body.hasPrefix("0b") {
            guard body.count == text.count else { return nil }  // no sign on prefixed integers
            let radix = body.hasPrefix("0x") ? 16 : body.hasPrefix("0o") ? 8 : 2
            guard let digits = digitsWithUnderscores(body.dropFirst(2)), let v = Int64(digits, radix: radix) else {
                return nil
            }
            return .integer(v)
        }
        let isFloat = body.contains(".") || body.contains("e") || body.contains("E")
        if !isFloat {
            guard let digits = digitsWithUnderscores(body), digits.count == 1 || !digits.hasPrefix("0"),
                let v = Int64((negative ? "-" : "") + digits)
            else { return nil }
            return .integer(v)
        }
        // Float: integer part, optional .fraction, optional exponent; each digit run with underscores only inside.
        let parts = body.split(separator: "e", maxSplits: 1, omittingEmptySubsequences: false).flatMap {
            $0.split(separator: "E", maxSplits: 1, omittingEmptySubsequences: false)
        }
        guard parts.count <= 2 else { return nil }
        let mantissa = parts[0].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let intPart = digitsWithUnderscores(mantissa[0]), intPart.count == 1 || !intPart.hasPrefix("0")
        else { return nil }
        var normalized = (negative ? "-" : "") + intPart
        if mantissa.count == 2 {
            guard let frac = digitsWithUnderscores(mantissa[1]) else { return nil }
            normalized += "." + frac
        }
        if parts.count == 2 {
            var exp = parts[1]
            var sign = ""
            if let f = exp.first, f == "+" || f == "-" {
                sign = String(f)
                exp = exp.dropFirst()
            }
            guard let e = digitsWithUnderscores(exp) else { return nil }
            normalized += "e" + sign + e
        }
        return Double(normalized).map(TOMLValue.float)
    }

    /// The digits of `s` with underscores removed, or nil when it is empty, holds a non-digit (hex letters
    /// allowed), or an underscore that is not between two digits.
    private static func digitsWithUnderscores(_ s: Substring) -> String? {
        guard let first = s.first, let last = s.last, first != "_", last != "_", !s.contains("__") else { return nil }
        guard s.allSatisfy({ $0 == "_" || $0.isHexDigit }) else { return nil }
        return String(s.filter { $0 != "_" })
    }
}
