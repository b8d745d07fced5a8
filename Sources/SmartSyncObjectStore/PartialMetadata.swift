import SmartSyncGitObjects

/// What a kept partial download needs to be resumed by a later run: where it came from, what it must become,
/// the server's validator for `If-Range`, and how many bytes were on disk when it was last saved.
///
/// Stored beside the data as `partials/<id>.meta`, a few `key value` lines, written atomically:
///
/// ```
/// smart-sync-partial 1
/// id 3b18e512dba79e4c8300dd08aeb37f8e728b8dad
/// size 67108864
/// url https://raw.githubusercontent.com/o/r/<commit>/big.bin
/// validator "3b18e512dba79e4c8300dd08aeb37f8e728b8dad"
/// written 33554432
/// ```
///
/// `written` is a lower bound: the data file's length is the truth after a crash (a `kill -9` keeps every byte
/// that reached the kernel); a data file shorter than `written` means the partial is damaged and is dropped.
public struct PartialMetadata: Sendable, Equatable {
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

    static let magic = "smart-sync-partial 1"

    /// The text form (see the type's documentation).
    public func encoded() -> [UInt8] {
        var lines = [Self.magic, "id \(id.hex)", "size \(size)", "url \(Self.clean(url))"]
        if let validator { lines.append("validator \(Self.clean(validator))") }
        lines.append("written \(written)")
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    /// Parses ``encoded()``; nil for anything else (a damaged or foreign file is simply not resumed).
    public init?(decoding bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard lines.first == Self.magic else { return nil }
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

    private static func clean(_ value: String) -> String {
        String(value.map { $0.isNewline ? " " : $0 })
    }
}
