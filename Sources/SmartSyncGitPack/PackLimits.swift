import SmartSyncGitObjects

/// What a pack may hold, derived from what it was asked for: the importer refuses anything else before it reaches
/// the store.
///
/// The checks, and when they apply:
/// - the header's object count against ``maxObjects``, before any entry is read;
/// - every object's declared size (a whole object's, a delta's result) before a byte of it is written: a blob of
///   ``blobSizeLimit`` bytes or more is refused, and the sizes together may not pass ``maxObjectBytes`` (nor the
///   run's budget given to ``PackImporter/importPack(atPath:arrival:limits:budget:)``);
/// - every object's id against ``contents``: as it is stored for ``Contents/only(_:)``, and when the pack ends,
///   before anything is published, for ``Contents/reachable(from:history:)``.
///
/// `Codable`, so a pack spooled to disk keeps its limits for a later run that imports it (a killed run's spool).
public struct PackLimits: Sendable, Codable, Equatable {
    /// The objects a pack may hold.
    public enum Contents: Sendable, Codable, Equatable {
        /// Any object.
        case anything
        /// Exactly these objects, none other (a pack of `want <blob>` lines: the server sends the blobs and
        /// nothing else; a thin pack's bases stay on the client's side).
        case only(Set<ObjectID>)
        /// These commits, their trees and what the trees reach (gitlinks excepted); with `history`, also the parent
        /// commits the pack brings and what they reach (a fetch without `deepen`). Bases of a thin pack are not in
        /// it, so nothing else has a reason to be.
        case reachable(from: [ObjectID], history: Bool)
    }

    /// The most entries a pack may declare when nothing better is known: a commit's closure (files, directories
    /// and the commit) is far below this for any source tree (about 100,000 for the largest public ones), and the
    /// importer keeps a few dozen bytes per entry.
    public static let defaultMaxObjects = 1_000_000

    /// The most entries the pack's header may declare.
    public var maxObjects: Int
    /// The most bytes the pack's objects may take together (declared sizes, delta results included); nil: no limit
    /// of its own.
    public var maxObjectBytes: Int?
    /// Blobs of this many bytes or more are refused (`filter blob:limit=N` sends only smaller ones); 0 refuses
    /// every blob (`filter blob:none`). nil: any size.
    public var blobSizeLimit: Int?
    /// Which objects the pack may hold.
    public var contents: Contents
    /// What the pack was asked for, for messages ("the 3 blobs asked for").
    public var asked: String

    public init(
        maxObjects: Int = PackLimits.defaultMaxObjects, maxObjectBytes: Int? = nil, blobSizeLimit: Int? = nil,
        contents: Contents = .anything, asked: String = "a pack"
    ) {
        self.maxObjects = maxObjects
        self.maxObjectBytes = maxObjectBytes
        self.blobSizeLimit = blobSizeLimit
        self.contents = contents
        self.asked = asked
    }

    /// The size limit a partial-clone filter puts on blobs: `blob:none` → 0, `blob:limit=N[kmg]` → N; nil for any
    /// other filter (or none).
    public static func blobSizeLimit(filter: String?) -> Int? {
        guard let filter else { return nil }
        if filter == "blob:none" { return 0 }
        guard filter.hasPrefix("blob:limit=") else { return nil }
        var number = filter.dropFirst("blob:limit=".count).lowercased()
        var unit = 1
        if let last = number.last, let scale = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30][String(last)] {
            unit = scale
            number.removeLast()
        }
        guard let value = Int(number), value >= 0 else { return nil }
        return value.multipliedReportingOverflow(by: unit).overflow ? nil : value * unit
    }
}
