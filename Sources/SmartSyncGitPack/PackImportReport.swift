import SmartSyncGitObjects

/// What ``PackImporter/importPack(atPath:)`` did.
public struct PackImportReport: Sendable, Equatable {
    /// Entries resolved and stored (or already present in the store).
    public var objects: Int = 0
    /// Of ``objects``, those that were deltas (OFS_DELTA or REF_DELTA).
    public var deltas: Int = 0
    /// REF_DELTA bases taken from the store rather than the pack (a thin pack).
    public var externalBases: Int = 0
    /// Bytes of the pack file read (the whole file, trailer included, when the import succeeded).
    public var packBytes: Int = 0
    /// True when the pack's SHA-1 trailer matched its content.
    public var trailerVerified: Bool = false
    /// How many objects of each kind were stored (or found present).
    public var ids: [ObjectKind: Int] = [:]

    /// An empty report (nothing imported yet).
    public init() {}
}
