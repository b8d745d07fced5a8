import FoundationEssentials
import Glibc
import SmartSyncCore
import SmartSyncFileSystem

/// A small record smart-sync keeps in a file of its own (partial-download metadata, the switch journal, the
/// pending-rebuild mark, the caches of validators, capabilities and pack commits): one line of JSON that names the
/// record's format and version beside its fields, optionally followed by a payload of raw bytes.
///
/// ```
/// {"commits":["3333…","2222…"],"format":"smart-sync-pack-commits","version":1}
/// ```
///
/// The line is written by `JSONEncoder` with sorted keys, so it holds no raw newline (JSON escapes them in strings)
/// and is the same for the same record. A payload (the validator cache's response body) follows the newline
/// verbatim: bulk bytes stay bytes, neither escaped nor base64-encoded. Files are replaced atomically
/// (``write(to:payload:mode:)``: a temporary file, `fsync`, `rename`, `fsync` of the directory).
///
/// The fields come from the record's `Codable` conformance; `format` and `version` are the envelope's and must not
/// be used by a record. A record that changes shape raises its ``version``; a release refuses a file with a higher
/// version (written by a newer release) rather than misread it. A file in the format a record had before it moved
/// to JSON is read through the `legacy` parser given to ``read(at:legacy:)``.
public protocol JSONRecord: Codable, Sendable {
    /// The name in the file's `format` field, e.g. `smart-sync-switch-journal`.
    static var format: String { get }
    /// The version this release writes and the newest it reads.
    static var version: Int { get }
}

/// A record read from its file, with what followed it and whether it was in its pre-JSON format.
public struct LoadedRecord<Record: JSONRecord>: Sendable {
    /// The record.
    public var record: Record
    /// The bytes after the record's line (empty for records without a payload).
    public var payload: ArraySlice<UInt8>
    /// True when the file was in the record's format from before JSON (see ``JSONRecord/read(at:legacy:)``):
    /// the caller rewrites it with ``JSONRecord/write(to:payload:mode:)`` to migrate it.
    public var isLegacy: Bool

    public init(record: Record, payload: ArraySlice<UInt8>, isLegacy: Bool) {
        self.record = record
        self.payload = payload
        self.isLegacy = isLegacy
    }
}

/// The envelope's own fields, read before the record's.
private struct RecordHeader: Decodable {
    var format: String?
    var version: Int?
}

/// Writes the envelope's fields and then the record's into one JSON object.
private struct RecordEnvelope<Record: JSONRecord>: Encodable {
    var record: Record
    enum Key: String, CodingKey { case format, version }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(Record.format, forKey: .format)
        try container.encode(Record.version, forKey: .version)
        try record.encode(to: encoder)
    }
}

extension JSONRecord {
    /// The file's bytes: the record's JSON line, a newline, then `payload` verbatim.
    public func encodedRecord(payload: some Collection<UInt8> = []) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(RecordEnvelope(record: self)))
        } catch {
            throw SmartSyncError(
                .internal, "could not encode a \(Self.format) record: \(error)",
                hint: "This is a bug in smart-sync; please report it")
        }
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// Replaces the file at `path` with this record (and `payload`) atomically; durable when this returns, unless not
    /// `durable` (no fsync: for a cache whose loss costs only time,
    /// ``FileSystem/writeFileAtomically(_:_:mode:ignoringUmask:durable:)``).
    public func write(
        to path: String, payload: some Collection<UInt8> = [], mode: mode_t = 0o644, durable: Bool = true
    ) throws {
        try FileSystem.writeFileAtomically(path, try encodedRecord(payload: payload), mode: mode, durable: durable)
    }

    /// Decodes a file's bytes written by ``encodedRecord(payload:)``; nil when they are not a JSON record at all
    /// (no `format` field: perhaps the record's older format).
    ///
    /// - Throws: `SmartSyncError` (`.integrity`) naming `path` when the bytes are a record of another format, of a
    ///   newer version than this release reads, or do not decode as this record.
    public static func decodeRecord(_ bytes: [UInt8], path: String) throws -> LoadedRecord<Self>? {
        let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
        let line = Data(bytes[..<newline])
        let payload = newline < bytes.endIndex ? bytes[(newline + 1)...] : []
        guard bytes.first == UInt8(ascii: "{"),
            let header = try? JSONDecoder().decode(RecordHeader.self, from: line), let format = header.format
        else { return nil }
        guard format == Self.format else { throw damaged(path, "it holds a \(format) record, not \(Self.format)") }
        guard let version = header.version, version >= 1 else {
            throw damaged(path, "its \(format) record has no valid version")
        }
        guard version <= Self.version else {
            throw SmartSyncError(
                .integrity,
                "\(path) was written by a newer smart-sync (\(format) version \(version); this release reads up to "
                    + "version \(Self.version))",
                hint: "Run the release that wrote it, or remove the file")
        }
        do {
            return LoadedRecord(
                record: try JSONDecoder().decode(Self.self, from: line), payload: payload, isLegacy: false)
        } catch {
            throw damaged(path, "its fields do not decode (\(error))")
        }
    }

    /// Reads the record at `path`: nil when there is no file. A file that is not a JSON record is given to
    /// `legacy`, the parser of the record's format from before JSON (the result is marked
    /// ``LoadedRecord/isLegacy``, so the caller can rewrite it).
    ///
    /// - Throws: `SmartSyncError` naming `path` when it cannot be read, or is neither this record in JSON (see
    ///   ``decodeRecord(_:path:)``) nor accepted by `legacy`.
    public static func read(
        at path: String, legacy: ([UInt8]) -> (record: Self, payload: ArraySlice<UInt8>)? = { _ in nil }
    ) throws -> LoadedRecord<Self>? {
        guard let (bytes, _) = try FileSystem.readFileIfPresent(path) else { return nil }
        return try decode(bytes, path: path, legacy: legacy)
    }

    /// The record in `bytes`, read from `path` by the caller: in JSON (``decodeRecord(_:path:)``), else as `legacy`
    /// parses it (marked ``LoadedRecord/isLegacy``).
    ///
    /// - Throws: `SmartSyncError` (`.integrity`) naming `path` when the bytes are neither.
    public static func decode(
        _ bytes: [UInt8], path: String, legacy: ([UInt8]) -> (record: Self, payload: ArraySlice<UInt8>)? = { _ in nil }
    ) throws -> LoadedRecord<Self> {
        if let loaded = try decodeRecord(bytes, path: path) { return loaded }
        guard let old = legacy(bytes) else {
            throw damaged(path, "it is neither a \(format) record nor in that record's earlier format")
        }
        return LoadedRecord(record: old.record, payload: old.payload, isLegacy: true)
    }

    /// ``read(at:legacy:)``, then rewrites a file found in the earlier format as JSON (with `mode`), so that the
    /// next reader finds the new format. The rewrite is best effort: when it fails the old file stays, still read,
    /// and the next run tries again. Call it only where the caller may write the file (under the lock that guards
    /// it, or for a cache).
    public static func readMigrating(
        at path: String, mode: mode_t = 0o644,
        legacy: ([UInt8]) -> (record: Self, payload: ArraySlice<UInt8>)? = { _ in nil }
    ) throws -> LoadedRecord<Self>? {
        guard let loaded = try read(at: path, legacy: legacy) else { return nil }
        if loaded.isLegacy { try? loaded.record.write(to: path, payload: loaded.payload, mode: mode) }
        return loaded
    }

    private static func damaged(_ path: String, _ why: String) -> SmartSyncError {
        SmartSyncError(.integrity, "\(path) is damaged: \(why)", hint: "Remove the file; smart-sync writes it again")
    }
}
