/// A place in a TOML document: 1-based line and column (columns count Unicode scalars).
public struct TOMLPosition: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// One TOML value. Dates and times are not supported (the parser rejects them with a clear error).
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    /// A short name of the value's type for error messages ("a string", "an integer", ...).
    public var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var integerValue: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }

    public var boolValue: Bool? {
        if case .boolean(let b) = self { return b }
        return nil
    }

    public var arrayValue: [TOMLValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var tableValue: TOMLTable? {
        if case .table(let t) = self { return t }
        return nil
    }
}

/// A TOML table: keys in document order, their values, and where each key was written.
public struct TOMLTable: Sendable, Equatable {
    /// The keys, in the order they were defined.
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]
    private var positions: [String: TOMLPosition] = [:]
    /// Where the table began: its `[header]`, the `{` of an inline table, or 1:1 for the document root.
    public var position: TOMLPosition

    public init(position: TOMLPosition = TOMLPosition(line: 1, column: 1)) {
        self.position = position
    }

    /// The value of `key`, or nil.
    public subscript(key: String) -> TOMLValue? { values[key] }

    /// Where `key` was defined (falls back to the table's own position).
    public func position(of key: String) -> TOMLPosition { positions[key] ?? position }

    /// True when the table has `key`.
    public func contains(_ key: String) -> Bool { values[key] != nil }

    /// Sets `key` (appending it to ``keys`` when new).
    public mutating func set(_ key: String, _ value: TOMLValue, at position: TOMLPosition) {
        if values[key] == nil {
            keys.append(key)
            positions[key] = position
        }
        values[key] = value
    }

    public static func == (a: TOMLTable, b: TOMLTable) -> Bool {
        a.keys == b.keys && a.values == b.values
    }
}
