import SmartSyncGitObjects

/// What a kept partial download needs to be resumed by a later run: where it came from, what it must become,
/// the server's validator for `If-Range`, and how many bytes were on disk when it was last saved.
///
/// Stored beside the data as `partials/<id>.meta`, a ``JSONRecord`` (format `smart-sync-partial`, version 2; version
/// 1 was the `key value` text of smart-sync 0.1.0, still read) with the fields `id`, `size`, `url`, `validator`
/// (absent when none) and `written`, written atomically.
///
/// `written` is a lower bound: the data file's length is the truth after a crash (a `kill -9` keeps every byte
/// that reached the kernel); a data file shorter than `written` means the partial is damaged and is dropped.
public struct PartialMetadata: JSONRecord, Equatable {
    public static let format = "smart-sync-partial"
    public static let version = 2

    /// The object the bytes must hash to.
    public var id: ObjectID
    /// The object's size in bytes.
    public var size: Int
    /// The URL the bytes came from (the validator belongs to it).
    public var url: String
    /// The response's strong `ETag`, else its `Last-Modified`; nil when the server sent neither.
    public var validator: String?
    /// Bytes known to be written when the metadata was saved.
    public var written: Int

    public init(id: ObjectID, size: Int, url: String, validator: String?, written: Int) {
        self.id = id
        self.size = size
        self.url = url
        self.validator = validator
        self.written = written
    }

    private enum CodingKeys: String, CodingKey { case id, size, url, validator, written }

    /// Decodes the fields, refusing sizes that cannot be (negative, or more written than the object has).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(ObjectID.self, forKey: .id), size: try c.decode(Int.self, forKey: .size),
            url: try c.decode(String.self, forKey: .url),
            validator: try c.decodeIfPresent(String.self, forKey: .validator),
            written: try c.decode(Int.self, forKey: .written))
        guard size >= 0, written >= 0, written <= size else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: "written \(written) of size \(size) cannot be"))
        }
    }

    /// The metadata in the file at `path` (either format); nil when there is none or it is damaged or foreign: such
    /// a partial is simply not resumed, and its metadata is rewritten (as JSON) when the partial is opened.
    public static func load(from path: String) -> PartialMetadata? {
        (try? read(at: path) { bytes in PartialMetadata(legacyText: bytes).map { ($0, []) } })?.record
    }

    // MARK: - Version 1: text (smart-sync 0.1.0)

    static let legacyMagic = "smart-sync-partial 1"

    /// Parses the text of version 1 (`smart-sync-partial 1`, then `id`, `size`, `url`, `validator` and `written`
    /// lines of `key value`); nil for anything else.
    init?(legacyText bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard lines.first == Self.legacyMagic else { return nil }
        lines.removeFirst()
        var fields: [String: String] = [:]
        for line in lines {
            guard let space = line.firstIndex(of: " ") else { return nil }
            fields[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        guard let id = fields["id"].flatMap({ ObjectID(hex: $0) }),
            let size = fields["size"].flatMap(Int.init), size >= 0,
            let url = fields["url"],
            let written = fields["written"].flatMap(Int.init), written >= 0, written <= size
        else { return nil }
        self.init(id: id, size: size, url: url, validator: fields["validator"], written: written)
    }
}
