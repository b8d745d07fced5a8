import SmartSyncCore

/// `smart-sync-mirror.json`: what a mirror directory holds (format, version, repository), written once.
public struct MirrorIdentity: Sendable, Equatable {
    public static let format = "smart-sync-mirror"
    public static let version = 1
    public static let fileName = "smart-sync-mirror.json"

    public var repository: String

    public init(repository: String) { self.repository = repository }

    /// The file's bytes: one JSON line ending in a newline.
    public func encoded() -> [UInt8] {
        let format = MirrorJSON.quote(Self.format)
        return Array(
            "{\"format\":\(format),\"version\":\(Self.version),\"repository\":\(MirrorJSON.quote(repository))}\n".utf8)
    }

    /// Parses the file. Throws `.malformedResponse` naming `source` when it is not a version-1 identity.
    public init(parsing bytes: [UInt8], source: String) throws {
        let object = try MirrorJSON.object(bytes, format: Self.format, version: Self.version, source: source)
        guard let repository = object["repository"] as? String else {
            throw SmartSyncError(
                .malformedResponse, "\(source) names no repository",
                hint: "it is no smart-sync mirror file (docs/MIRROR.md); publish into an empty or new directory")
        }
        self.init(repository: repository)
    }
}
