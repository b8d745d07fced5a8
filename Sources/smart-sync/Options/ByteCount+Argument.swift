import ArgumentParser
import FoundationEssentials
import SmartSyncCore

/// `--limit-rate`, `--min-speed`, `--pack-blob-limit`, `--max-size`: parsed once, by ``ByteCount/init(parsing:)``.
extension ByteCount: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }

    public var defaultValueDescription: String { argument }
}

/// `--max-download`: a ``ByteCount``, or `none` for no limit.
struct DownloadLimit: ExpressibleByArgument, Sendable {
    /// nil: no limit.
    var bytes: Int?

    init(_ count: ByteCount?) { bytes = count?.bytes }

    init?(argument: String) {
        if argument.trimmed(newlines: false).lowercased() == "none" {
            bytes = nil
        } else if let count = ByteCount(parsing: argument) {
            bytes = count.bytes
        } else {
            return nil
        }
    }

    var defaultValueDescription: String { bytes.map { ByteCount($0).argument } ?? "none" }
}
