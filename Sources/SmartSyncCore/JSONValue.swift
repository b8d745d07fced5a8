/// Any JSON value, for the JSON whose shape is not one Codable type: the `--json` events the CLI assembles as
/// `[String: Any]` dictionaries, and files read before their version is known. Decoded with `JSONDecoder`
/// (FoundationEssentials) and written by ``serialized()``, where Foundation's `JSONSerialization` (which needs all
/// of Foundation) was used: its `[.sortedKeys, .withoutEscapingSlashes]` bytes except the key order, which is by
/// UTF-8 bytes (as `JSONEncoder`'s `.sortedKeys`) where Linux Foundation's followed the host locale's ICU collation.
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The value of a dictionary or array of Swift values as `JSONSerialization` took them: `String`, `Bool`, any
    /// integer type whose value an `Int64` holds, `Double` and `Float`, `[Any]`, `[String: Any]`, `JSONValue` itself,
    /// and nil; nil for anything else (an integer over `Int64.max` among them).
    public init?(any value: Any?) {
        switch value {
        case nil: self = .null
        case let v as JSONValue: self = v
        case let v as String: self = .string(v)
        case let v as Substring: self = .string(String(v))
        case let v as Bool: self = .bool(v)
        case let v as any BinaryInteger:
            guard let exact = Int64(exactly: v) else { return nil }
            self = .int(exact)
        case let v as Double: self = .double(v)
        case let v as Float: self = .double(Double(v))
        case let v as [Any]:
            var items: [JSONValue] = []
            for item in v {
                guard let j = JSONValue(any: item) else { return nil }
                items.append(j)
            }
            self = .array(items)
        case let v as [String: Any]:
            var members: [String: JSONValue] = [:]
            for (key, item) in v {
                guard let j = JSONValue(any: item) else { return nil }
                members[key] = j
            }
            self = .object(members)
        default:
            if case Optional<Any>.none = value as Any? { self = .null } else { return nil }
        }
    }

    /// The value as `JSONSerialization.jsonObject` gave it: `[String: Any]`, `[Any]`, `String`, `Bool`, `Int`,
    /// `Double`, or `JSONValue.null` for null.
    public var anyValue: Any {
        switch self {
        case .null: return JSONValue.null
        case .bool(let v): return v
        case .int(let v): return Int(v)
        case .double(let v): return v
        case .string(let v): return v
        case .array(let v): return v.map(\.anyValue)
        case .object(let v): return v.mapValues(\.anyValue)
        }
    }

    /// The members of an object; nil for any other value.
    public var objectValue: [String: Any]? {
        if case .object = self { return anyValue as? [String: Any] }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let v = try? c.decode(Bool.self) {
            self = .bool(v)
        } else if let v = try? c.decode(Int64.self) {
            self = .int(v)
        } else if let v = try? c.decode(Double.self) {
            self = .double(v)
        } else if let v = try? c.decode(String.self) {
            self = .string(v)
        } else if let v = try? c.decode([JSONValue].self) {
            self = .array(v)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let v): try c.encode(v)
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .array(let v): try c.encode(v)
        case .object(let v): try c.encode(v)
        }
    }

    /// The value as `JSONSerialization.data(withJSONObject:options: [.sortedKeys, .withoutEscapingSlashes])` wrote
    /// it, except that keys are sorted by their UTF-8 bytes (`B`, `_a`, `a10`, `a9`: deterministic and independent
    /// of the locale, where Foundation's ICU collation was not), strings with `"`, `\\` and control characters
    /// escaped, numbers as Swift prints them without a trailing `.0`. Nil for a number that is not finite
    /// (`JSONSerialization` threw).
    public func serialized() -> String? {
        var out = ""
        return write(to: &out) ? out : nil
    }

    private func write(to out: inout String) -> Bool {
        switch self {
        case .null: out += "null"
        case .bool(let v): out += v ? "true" : "false"
        case .int(let v): out += String(v)
        case .double(let v):
            guard v.isFinite else { return false }
            var text = "\(v)"
            if text.hasSuffix(".0") { text.removeLast(2) }
            out += text
        case .string(let v): Self.quote(v, to: &out)
        case .array(let v):
            out += "["
            for (i, item) in v.enumerated() {
                if i > 0 { out += "," }
                guard item.write(to: &out) else { return false }
            }
            out += "]"
        case .object(let v):
            out += "{"
            for (i, key) in v.keys.sorted(by: Self.byteOrder).enumerated() {
                if i > 0 { out += "," }
                Self.quote(key, to: &out)
                out += ":"
                guard v[key]!.write(to: &out) else { return false }
            }
            out += "}"
        }
        return true
    }

    private static func quote(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// `a` before `b` in the output: by their UTF-8 bytes, as `JSONEncoder`'s `.sortedKeys` orders keys.
    private static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
