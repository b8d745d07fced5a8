import Glibc

/// The `key=value` text, one field per line, in which smart-sync 0.1.0 wrote the switch journal and the
/// pending-rebuild mark; read only to migrate them.
enum KeyValueText {
    /// The fields of `bytes`; nil when a line has no `=`.
    static func parse(_ bytes: [UInt8]) -> [String: String]? {
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { return nil }
            fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return fields
    }
}
