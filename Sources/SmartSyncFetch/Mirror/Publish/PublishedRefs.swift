import FoundationEssentials
import SmartSyncCore
import SmartSyncGitObjects

/// The `refs` pointer file of a static mirror (docs/MIRROR.md, version 1): one JSON line naming the repository,
/// when it was written, when it expires, the head ref and each published ref's commit.
///
/// ``encoded()`` writes the fields in the order the spec shows, and the refs in the order they were asked for, so
/// the bytes (what `refs.sig` signs) depend only on the values.
public struct PublishedRefs: Sendable, Equatable {
    /// One published ref: the name as asked, and its (peeled) commit.
    public struct Ref: Sendable, Equatable {
        public var name: String
        public var commit: ObjectID

        public init(name: String, commit: ObjectID) {
            self.name = name
            self.commit = commit
        }
    }

    public static let format = "smart-sync-refs"
    public static let version = 1

    /// `OWNER/REPO`, or the path or name a `--source` publish was given.
    public var repository: String
    /// Unix seconds when the pointer was written.
    public var published: Int64
    /// Unix seconds after which hosts refuse it.
    public var expires: Int64
    /// The ref a host syncs when it asks for none.
    public var head: String
    /// The refs, in the order they were asked for.
    public var refs: [Ref]

    public init(repository: String, published: Int64, expires: Int64, head: String, refs: [Ref]) {
        self.repository = repository
        self.published = published
        self.expires = expires
        self.head = head
        self.refs = refs
    }

    /// The commit `name` points at, or nil.
    public func commit(of name: String) -> ObjectID? { refs.first { $0.name == name }?.commit }

    /// The file's bytes: one JSON line ending in a newline.
    public func encoded() -> [UInt8] {
        let pairs = refs.map { MirrorJSON.quote($0.name) + ":" + MirrorJSON.quote($0.commit.hex) }
        let line =
            "{\"format\":\(MirrorJSON.quote(Self.format)),\"version\":\(Self.version),"
            + "\"repository\":\(MirrorJSON.quote(repository)),\"published\":\(published),\"expires\":\(expires),"
            + "\"head\":\(MirrorJSON.quote(head)),\"refs\":{\(pairs.joined(separator: ","))}}\n"
        return Array(line.utf8)
    }

    /// Parses a `refs` file. Throws `.malformedResponse` naming `source` when it is not a version-1 pointer.
    /// (JSON objects have no order: ``refs`` come back sorted by name.)
    public init(parsing bytes: [UInt8], source: String) throws {
        let object = try MirrorJSON.object(bytes, format: Self.format, version: Self.version, source: source)
        guard let repository = object["repository"] as? String, let published = MirrorJSON.integer(object["published"]),
            let expires = MirrorJSON.integer(object["expires"]), let head = object["head"] as? String,
            let refs = object["refs"] as? [String: Any]
        else {
            throw SmartSyncError(
                .malformedResponse, "\(source) lacks one of repository, published, expires, head or refs",
                hint: "it is no smart-sync refs file (docs/MIRROR.md)")
        }
        var parsed: [Ref] = []
        for (name, value) in refs.sorted(by: { $0.key < $1.key }) {
            guard let hex = value as? String, hex.utf8.count == 40, let id = ObjectID(hex: hex) else {
                throw SmartSyncError(
                    .malformedResponse, "\(source) names no valid commit id for ref '\(name)'",
                    hint: "it is no smart-sync refs file (docs/MIRROR.md)")
            }
            parsed.append(Ref(name: name, commit: id))
        }
        self.init(repository: repository, published: published, expires: expires, head: head, refs: parsed)
    }
}
