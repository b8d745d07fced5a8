import FoundationEssentials
import SmartSyncCore

/// The small JSON needs of the mirror files.
enum MirrorJSON {
    /// `text` as a JSON string (quoted, escaped; `/` left alone).
    static func quote(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }

    /// The JSON object in `bytes`, checked to carry `format` and `version`.
    static func object(_ bytes: [UInt8], format: String, version: Int, source: String) throws -> [String: Any] {
        guard let object = (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)))?.objectValue else {
            throw SmartSyncError(
                .malformedResponse, "\(source) is not a JSON object",
                hint: "it is no smart-sync mirror file (docs/MIRROR.md); remove it, or publish into a new directory")
        }
        guard object["format"] as? String == format else {
            throw SmartSyncError(
                .malformedResponse, "\(source) is not a \(format) file (its format is "
                    + "\(object["format"] ?? "missing"))",
                hint: "it is no smart-sync mirror file (docs/MIRROR.md); remove it, or publish into a new directory")
        }
        guard integer(object["version"]) == Int64(version) else {
            throw SmartSyncError(
                .malformedResponse,
                "\(source) is version \(object["version"] ?? "missing") of the \(format) format, which "
                    + "this smart-sync does not know",
                hint: "use a smart-sync that knows it, or publish to a new directory")
        }
        return object
    }

    /// An integral JSON number.
    static func integer(_ value: Any?) -> Int64? {
        if let int = value as? Int { return int.magnitude < 9_000_000_000_000_000 ? Int64(int) : nil }
        guard let double = value as? Double, double == double.rounded(), abs(double) < 9e15 else { return nil }
        return Int64(double)
    }
}
