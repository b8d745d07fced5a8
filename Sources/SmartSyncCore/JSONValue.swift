/// Any JSON value, for the JSON whose shape is not one Codable type: the `--json` events the CLI assembles as
/// `[String: Any]` dictionaries, and files read before their version is known. Encoded and decoded with
/// `JSONEncoder`/`JSONDecoder` (FoundationEssentials), where Foundation's `JSONSerialization` (which needs all of
/// Foundation) was used: with `.sortedKeys` and `.withoutEscapingSlashes` it writes the same bytes.
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The value of a dictionary or array of Swift values as `JSONSerialization` took them: `String`, `Bool`, any
    /// integer type, `Double`, `[Any]`, `[String: Any]`, `JSONValue` itself, and nil; nil for anything else.
    public init?(any value: Any?) {
        switch value {
        case nil: self = .null
        case let v as JSONValue: self = v
        case let v as String: self = .string(v)
        case let v as Substring: self = .string(String(v))
        case let v as Bool: self = .bool(v)
        case let v as Int: self = .int(Int64(v))
        case let v as Int64: self = .int(v)
        case let v as Int32: self = .int(Int64(v))
        case let v as UInt32: self = .int(Int64(v))
        case let v as UInt64 where v <= UInt64(Int64.max): self = .int(Int64(v))
        case let v as Double: self = .double(v)
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
}
