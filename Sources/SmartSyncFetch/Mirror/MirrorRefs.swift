import FoundationEssentials
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// A mirror's `refs` pointer (docs/MIRROR.md): which commit each published ref names, when it was published and
/// until when a host may take it.
public struct MirrorRefs: Codable, Sendable, Equatable {
    public var format: String
    public var version: Int
    /// `OWNER/REPO` (or the path given to `publish --source`).
    public var repository: String
    /// Unix seconds when the pointer was written; never smaller than the previous pointer's.
    public var published: Int64
    /// Unix seconds after which a host refuses the pointer.
    public var expires: Int64
    /// The ref a host syncs when it asks for none.
    public var head: String
    /// Ref name as asked → commit id (tags peeled).
    public var refs: [String: String]

    /// Parses the pointer's bytes; `.malformedResponse` naming `source` when they are not a version 1 pointer.
    public static func parse(_ bytes: [UInt8], source: String) throws -> MirrorRefs {
        let refs: MirrorRefs
        do {
            refs = try JSONDecoder().decode(MirrorRefs.self, from: Data(bytes))
        } catch {
            throw SmartSyncError(.malformedResponse, "\(source) is not a smart-sync refs pointer (\(error))")
        }
        guard refs.format == "smart-sync-refs", refs.version == 1 else {
            throw SmartSyncError(
                .malformedResponse, "\(source) is a '\(refs.format)' file of version "
                    + "\(refs.version), not smart-sync-refs 1",
                hint: "a newer publish may have written it: upgrade smart-sync")
        }
        return refs
    }

    /// The commit `ref` names (nil: ``head``), or nil when the pointer has no such ref.
    public func commit(for ref: String?) -> ObjectID? {
        refs[ref ?? head].flatMap { ObjectID(hex: $0) }
    }
}

/// How a host trusts a mirror's `refs` (`--trusted-key`): the pointer's signature (`refs.sig`, namespace
/// `smart-sync`) verified against pinned keys, the repository it names, its expiry, and the newest pointer accepted
/// before (a replay is refused). The origin is never asked.
public struct MirrorTrust: Sendable {
    /// Verifies an armored SSH signature over a message; returns who signed it (for the log); throws
    /// `SmartSyncError(.integrity, …)` when the signature is bad or no pinned key made it.
    public typealias Verifier = @Sendable (_ message: [UInt8], _ signature: [UInt8], _ source: String) throws -> String

    /// The signature check (SmartSyncSignatures' `AllowedSigners.verify` in namespace `smart-sync`).
    public var verify: Verifier
    /// How far ahead of this host's clock a pointer's `published` may be.
    public static let clockSkew: Int64 = 300
    /// The repository the pointer must name (`owner/repo`, normalized: ``normalized(_:)``).
    public var repository: String
    /// Where the newest accepted pointer's time is kept (``AcceptedRefs``), in the state directory.
    public var recordPath: String
    /// The clock pointers are held to (tests move it).
    public var now: @Sendable () -> Date

    /// - Parameters:
    ///   - stateDirectory: the state directory; the record is `mirror-refs-<sha1 of repository>` in it.
    public init(
        repository: String, stateDirectory: String, now: @escaping @Sendable () -> Date = { Date() },
        verify: @escaping Verifier
    ) {
        self.repository = Self.normalized(repository)
        self.verify = verify
        self.now = now
        recordPath =
            stateDirectory + "/mirror-refs-" + ObjectID.hash(.blob, Array(self.repository.utf8)).abbreviated(16)
    }

    /// `OWNER/REPO` as GitHub compares it: without a trailing `.git` or `/`, lowercased.
    public static func normalized(_ repository: String) -> String {
        var slug = Substring(repository.lowercased())
        while slug.hasSuffix("/") { slug = slug.dropLast() }
        if slug.hasSuffix(".git") { slug = slug.dropLast(4) }
        return String(slug)
    }
}

/// The newest `refs` pointer a host accepted for a repository: a pointer published before it is a replay.
/// A ``JSONRecord`` (format `smart-sync-accepted-refs`) in the state directory.
public struct AcceptedRefs: JSONRecord, Equatable {
    public static let format = "smart-sync-accepted-refs"
    public static let version = 1
    public var repository: String
    public var published: Int64
    /// The mirror it came from, for the operator.
    public var mirror: String
    /// The accepted `refs` bytes' hash (a blob id's hex): another pointer of the same second is a replay. nil in
    /// records written before it was kept.
    public var digest: String?

    public init(repository: String, published: Int64, mirror: String, digest: String? = nil) {
        self.repository = repository
        self.published = published
        self.mirror = mirror
        self.digest = digest
    }
}
