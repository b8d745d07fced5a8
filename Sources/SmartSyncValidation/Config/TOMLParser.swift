import SmartSyncCore

/// Where and why a TOML document failed to parse; the ``SmartSyncError/cause`` of the error ``TOMLParser`` throws.
public struct TOMLSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name given to the parser (used in messages only).
    public var file: String
    public var position: TOMLPosition
    public var reason: String

    public var description: String { "\(file):\(position.line):\(position.column): \(reason)" }
}

/// A strict parser for the subset of TOML 1.0 that smart-sync's configuration uses.
///
/// Supported: comments; bare, quoted and dotted keys; tables `[a.b]`; arrays of tables `[[check]]`; basic and
/// literal strings, single- and multi-line, with all TOML escapes; integers (decimal, `0x`, `0o`, `0b`,
/// underscores); floats (with `inf` and `nan`); booleans; arrays (multi-line, trailing commas, comments); inline
/// tables. Dates and times are refused with an error that says to quote them. Every error names the file, line
/// and column.
public struct TOMLParser {
    let bytes: [UInt8]
    let file: String
    var index = 0
    var line = 1
    var column = 1

    /// Paths of tables defined by a `[header]` (or by dotted keys), which may not be defined again.
    private var definedTables: Set<[String]> = []
    /// Paths of arrays of tables (`[[header]]`): a header through them means their last element.
    private var arraysOfTables: Set<[String]> = []
    /// Paths assigned with `key = value` (inline tables and arrays included): closed to headers and dotted keys.
    private var assigned: Set<[String]> = []

    private init(_ text: String, file: String) {
        self.bytes = Array(text.utf8)
        self.file = file
    }

    /// Parses `text`; `file` names it in error messages.
    ///
    /// - Throws: ``SmartSyncError`` (`.invalidArgument`) whose message is `file:line:column: reason`, with a
    ///   ``TOMLSyntaxError`` as its cause.
    public static func parse(_ text: String, file: String) throws -> TOMLTable {
        var parser = TOMLParser(text, file: file)
        do {
            return try parser.document()
        } catch let error as TOMLSyntaxError {
            throw SmartSyncError(.invalidArgument, "\(error)", hint: "fix the TOML syntax there", cause: error)
        }
    }

    // MARK: - Document structure

    private mutating func document() throws -> TOMLTable {
        var root = TOMLTable()
        var current: [String] = []
        while true {
            skipBlank()
            skipComment()
            guard let c = peek() else { break }
            if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                try newline()
                continue
            }
            let start = position
            if c == UInt8(ascii: "[") {
                advance()
                let isArray = peek() == UInt8(ascii: "[")
                if isArray { advance() }
                skipBlank()
                let path = try key()
                skipBlank()
                try expect("]", "a ']' to close the table header")
                if isArray { try expect("]", "']]' to close the array-of-tables header") }
                try lineEnd()
                if isArray {
                    try appendTable(path, in: &root, at: start)
                } else {
                    try defineTable(path, in: &root, at: start)
                }
                current = path
            } else {
                let path = try key()
                skipBlank()
                try expect("=", "'=' after the key")
                skipBlank()
                let value = try self.value()
                try lineEnd()
                try assign(current, path, value, in: &root, at: start)
            }
        }
        return root
    }

    private mutating func defineTable(_ path: [String], in root: inout TOMLTable, at start: TOMLPosition) throws {
        guard definedTables.insert(path).inserted, !arraysOfTables.contains(path) else {
            throw error("table [\(dotted(path))] is defined twice", at: start)
        }
        try withTable(path, in: &root, at: start) { table, created in
            if created { table.position = start }
        }
    }

    private mutating func appendTable(_ path: [String], in root: inout TOMLTable, at start: TOMLPosition) throws {
        if definedTables.contains(path) && !arraysOfTables.contains(path) {
            throw error("[[\(dotted(path))]] names a table defined before as [\(dotted(path))]", at: start)
        }
        // The previous element's sub-tables are closed; the new element may define them again.
        definedTables = definedTables.filter { !($0.count > path.count && Array($0.prefix(path.count)) == path) }
        let parentPath = Array(path.dropLast())
        let name = path.last!
        let isNew = arraysOfTables.insert(path).inserted
        try withTable(parentPath, in: &root, at: start) { parent, _ in
            var elements: [TOMLValue] = []
            if let existing = parent[name] {
                guard !isNew, case .array(let a) = existing else {
                    throw self.error("[[\(self.dotted(path))]]: '\(name)' is already \(existing.typeName)", at: start)
                }
                elements = a
            }
            elements.append(.table(TOMLTable(position: start)))
            parent.set(name, .array(elements), at: start)
        }
    }

    private mutating func assign(
        _ base: [String], _ key: [String], _ value: TOMLValue, in root: inout TOMLTable, at start: TOMLPosition
    ) throws {
        let tablePath = base + key.dropLast()
        // Dotted keys define their intermediate tables.
        for i in (base.count + 1)..<(tablePath.count + 1) {
            definedTables.insert(Array(tablePath.prefix(i)))
        }
        let name = key.last!
        try withTable(tablePath, in: &root, at: start) { table, _ in
            if table.contains(name) {
                throw self.error(
                    "key '\(self.dotted(base + key))' is already defined at line \(table.position(of: name).line)",
                    at: start)
            }
            table.set(name, value, at: start)
        }
        assigned.insert(base + key)
    }

    /// Runs `body` on the table at `path`, creating missing tables; an array of tables on the way means its last
    /// element.
    private func withTable(
        _ path: [String], in root: inout TOMLTable, at start: TOMLPosition,
        _ body: (inout TOMLTable, _ created: Bool) throws -> Void
    ) throws {
        try descend(path[...], prefix: [], in: &root, created: false, at: start, body)
    }

    private func descend(
        _ rest: ArraySlice<String>, prefix: [String], in table: inout TOMLTable, created: Bool, at start: TOMLPosition,
        _ body: (inout TOMLTable, Bool) throws -> Void
    ) throws {
        guard let name = rest.first else { return try body(&table, created) }
        let path = prefix + [name]
        if assigned.contains(path) {
            throw error(
                "'\(dotted(path))' was assigned a value at line "
                    + "\(table.position(of: name).line) and cannot be extended",
                at: start)
        }
        switch table[name] {
        case nil:
            var child = TOMLTable(position: start)
            try descend(rest.dropFirst(), prefix: path, in: &child, created: true, at: start, body)
            table.set(name, .table(child), at: start)
        case .table(var child)?:
            try descend(rest.dropFirst(), prefix: path, in: &child, created: false, at: start, body)
            table.set(name, .table(child), at: start)
        case .array(var elements)? where arraysOfTables.contains(path):
            guard case .table(var child)? = elements.last else { return }
            try descend(rest.dropFirst(), prefix: path, in: &child, created: false, at: start, body)
            elements[elements.count - 1] = .table(child)
            table.set(name, .array(elements), at: start)
        case let other?:
            throw error("'\(dotted(path))' is \(other.typeName), not a table", at: start)
        }
    }

    // MARK: - Keys

    /// A key: bare or quoted parts separated by dots.
    mutating func key() throws -> [String] {
        var parts: [String] = []
        while true {
            skipBlank()
            guard let c = peek() else { throw error("expected a key, found the end of the file") }
            if c == UInt8(ascii: "\"") {
                parts.append(try basicString())
            } else if c == UInt8(ascii: "'") {
                parts.append(try literalString())
            } else if Self.isBareKeyByte(c) {
                var text: [UInt8] = []
                while let b = peek(), Self.isBareKeyByte(b) {
                    text.append(b)
                    advance()
                }
                parts.append(String(decoding: text, as: UTF8.self))
            } else {
                throw error(
                    "expected a key, found \(describe(c)); bare keys may hold A-Z a-z 0-9 _ - only, quote others")
            }
            skipBlank()
            guard peek() == UInt8(ascii: ".") else { return parts }
            advance()
        }
    }

    static func isBareKeyByte(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    func dotted(_ path: [String]) -> String {
        path.map { !$0.isEmpty && $0.utf8.allSatisfy(Self.isBareKeyByte) ? $0 : "\"\($0)\"" }.joined(separator: ".")
    }

    // MARK: - Cursor

    var position: TOMLPosition { TOMLPosition(line: line, column: column) }

    func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    mutating func advance() {
        let c = bytes[index]
        index += 1
        if c == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if c & 0xC0 != 0x80 {
            column += 1
        }
    }

    /// Skips spaces and tabs.
    mutating func skipBlank() {
        while let c = peek(), c == 0x20 || c == 0x09 { advance() }
    }

    /// Skips a `#` comment up to (not including) the line end.
    mutating func skipComment() {
        guard peek() == UInt8(ascii: "#") else { return }
        while let c = peek(), c != UInt8(ascii: "\n"), c != UInt8(ascii: "\r") { advance() }
    }

    /// Consumes `\n` or `\r\n`.
    mutating func newline() throws {
        if peek() == UInt8(ascii: "\r") {
            guard peek(1) == UInt8(ascii: "\n") else { throw error("a carriage return must be followed by a newline") }
            advance()
        }
        advance()
    }

    /// After a value or header: blanks, an optional comment, then a newline or the end of the file.
    mutating func lineEnd() throws {
        skipBlank()
        skipComment()
        guard let c = peek() else { return }
        guard c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") else {
            throw error("expected the end of the line, found \(describe(c)); put one key = value per line")
        }
        try newline()
    }

    mutating func expect(_ char: Character, _ what: String) throws {
        guard let c = peek(), c == char.asciiValue! else {
            throw error("expected \(what), found \(peek().map(describe) ?? "the end of the file")")
        }
        advance()
    }

    func describe(_ c: UInt8) -> String {
        switch c {
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): return "the end of the line"
        case 0x20...0x7E: return "'\(Character(UnicodeScalar(c)))'"
        default: return "byte 0x\(String(c, radix: 16))"
        }
    }

    func error(_ reason: String, at position: TOMLPosition? = nil) -> TOMLSyntaxError {
        TOMLSyntaxError(file: file, position: position ?? self.position, reason: reason)
    }
}
