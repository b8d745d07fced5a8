import Foundation

/// The small records as smart-sync 0.1.0 wrote them (`Tests/Fixtures/Records`, see its README): the migration tests
/// read them with today's code.
public enum RecordFixtures {
    /// The fixtures' directory.
    public static let directory = SmartSyncBinary.packageRoot + "/Tests/Fixtures/Records"

    /// The bytes of fixture `name` (a path under ``directory``).
    public static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
    }

    /// Copies fixture `name` (a file or a directory) to `destination`, which must not exist.
    public static func copy(_ name: String, to destination: String) throws {
        try FileManager.default.copyItem(atPath: directory + "/" + name, toPath: destination)
    }

    /// True when `bytes` are a JSON record of `format` (what the new code writes), not the old format.
    public static func isJSONRecord(_ bytes: [UInt8], format: String) -> Bool {
        let line = bytes.prefix { $0 != UInt8(ascii: "\n") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return false }
        return object["format"] as? String == format && object["version"] is Int
    }

    /// True when the file at `path` is a JSON record of `format` (see ``isJSONRecord(_:format:)``).
    public static func fileIsJSONRecord(_ path: String, format: String) -> Bool {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { return false }
        return isJSONRecord(Array(data), format: format)
    }
}
