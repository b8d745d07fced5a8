import Glibc
import SmartSyncCore

/// Typed access to one `[[check]]` table, with errors that name the file, line and key, and a final check that
/// no key was left unread (a misspelt key is an error, not silently ignored).
final class CheckTable {
    let table: TOMLTable
    let file: String
    let kind: String
    private var used: Set<String> = []

    init(_ table: TOMLTable, file: String, kind: String) {
        self.table = table
        self.file = file
        self.kind = kind
        used.insert("kind")
    }

    /// `file:line`.
    func location(_ key: String? = nil) -> String {
        "\(file):\(key.map { table.position(of: $0).line } ?? table.position.line)"
    }

    func error(_ key: String?, _ message: String, hint: String? = nil) -> SmartSyncError {
        SmartSyncError(.invalidArgument, "\(location(key)): [[check]] kind = \"\(kind)\": \(message)", hint: hint)
    }

    func string(_ key: String) throws -> String? {
        used.insert(key)
        guard let value = table[key] else { return nil }
        guard let s = value.stringValue else { throw error(key, "'\(key)' must be a string, not \(value.typeName)") }
        return s
    }

    func requiredString(_ key: String, _ meaning: String) throws -> String {
        guard let s = try string(key) else { throw error(nil, "the key '\(key)' is missing: \(meaning)") }
        guard !s.isEmpty else { throw error(key, "'\(key)' is empty: \(meaning)") }
        return s
    }

    /// A string or an array of strings.
    func strings(_ key: String) throws -> [String]? {
        used.insert(key)
        guard let value = table[key] else { return nil }
        if let s = value.stringValue { return [s] }
        guard let array = value.arrayValue, let strings = Optional(array.compactMap(\.stringValue)),
            strings.count == array.count
        else { throw error(key, "'\(key)' must be a string or an array of strings, not \(value.typeName)") }
        return strings
    }

    func requiredStrings(_ key: String, _ meaning: String) throws -> [String] {
        guard let list = try strings(key) else { throw error(nil, "the key '\(key)' is missing: \(meaning)") }
        guard !list.isEmpty else { throw error(key, "'\(key)' is empty: \(meaning)") }
        return list
    }

    func integer(_ key: String) throws -> Int64? {
        used.insert(key)
        guard let value = table[key] else { return nil }
        guard let i = value.integerValue else { throw error(key, "'\(key)' must be an integer, not \(value.typeName)") }
        return i
    }

    func bool(_ key: String) throws -> Bool? {
        used.insert(key)
        guard let value = table[key] else { return nil }
        guard let b = value.boolValue else { throw error(key, "'\(key)' must be true or false, not \(value.typeName)") }
        return b
    }

    /// A permission mode written as a string (`"0755"`).
    func mode(_ key: String) throws -> mode_t? {
        guard let text = try string(key) else { return nil }
        guard let mode = FileInfo.parseMode(text) else {
            throw error(key, "'\(key)' must be an octal mode in quotes, such as \"0755\", not \"\(text)\"")
        }
        return mode
    }

    func severity() throws -> Severity? {
        guard let text = try string("severity") else { return nil }
        guard let s = Severity(rawValue: text) else {
            throw error("severity", "severity must be \"warn\" or \"fail\", not \"\(text)\"")
        }
        return s
    }

    /// Throws when the table has a key no reader asked for.
    func finish() throws {
        for key in table.keys where !used.contains(key) {
            throw error(key, "unknown key '\(key)'", hint: "remove it or check its spelling (see docs/VALIDATION.md)")
        }
    }
}
