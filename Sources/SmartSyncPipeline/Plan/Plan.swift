import SmartSyncGitObjects

/// What a sync will do to a target: one ``Change`` per path, sorted by path, plus the blobs the store must
/// provide; at the commit the target already has, the unchanged paths are only counted (``listsUnchanged``).
/// `Codable` for library callers (the CLI's JSON output prints a `PlanSummary`, not a plan).
public struct Plan: Sendable, Hashable, Codable {
    /// The commit the plan brings the target to.
    public var commit: ObjectID
    /// Every path considered (including unchanged, untracked and excluded ones), sorted by path; the unchanged ones
    /// only when ``listsUnchanged``.
    public var changes: [Change]
    /// False when the ``Change/Kind/unchanged`` paths were counted (``count(_:)``) but left out of ``changes``: the
    /// plan of a run whose target already had the commit (``Planner/plan(listing:previous:local:listUnchanged:)``).
    public var listsUnchanged = true
    /// Each distinct blob the written paths need, once (identical content is fetched once), sorted by id.
    public var blobsNeeded: [NeededBlob]
    /// How many changes of each kind.
    public var counts: [Change.Kind: Int]

    /// `unlistedUnchanged`: unchanged paths counted but not in `changes` (``listsUnchanged`` false when any).
    public init(commit: ObjectID, changes: [Change], blobsNeeded: [NeededBlob], unlistedUnchanged: Int = 0) {
        self.commit = commit
        listsUnchanged = unlistedUnchanged == 0
        self.changes = changes
        self.blobsNeeded = blobsNeeded
        var counts: [Change.Kind: Int] = [:]
        // By index, reading the kind in place: a `for c in changes` copies each change out (its path and note
        // retained and released), 20,000 times on a no-op of a 20,000-file tree. Counted by runs of one kind (a
        // no-op is one run): a dictionary update per run, not per change.
        var run: (kind: Change.Kind, count: Int)?
        for i in changes.indices {
            let kind = changes[i].kind
            if let current = run, current.kind == kind {
                run = (kind, current.count + 1)
            } else {
                if let current = run { counts[current.kind, default: 0] += current.count }
                run = (kind, 1)
            }
        }
        if let current = run { counts[current.kind, default: 0] += current.count }
        if unlistedUnchanged > 0 { counts[.unchanged, default: 0] += unlistedUnchanged }
        self.counts = counts
    }

    /// Decodes a plan as ``init(from:)`` would be synthesized, but for ``listsUnchanged``, which a plan encoded before
    /// it existed (by a library caller) lacks: then true, as every plan listed its unchanged paths.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        commit = try c.decode(ObjectID.self, forKey: .commit)
        changes = try c.decode([Change].self, forKey: .changes)
        listsUnchanged = try c.decodeIfPresent(Bool.self, forKey: .listsUnchanged) ?? true
        blobsNeeded = try c.decode([NeededBlob].self, forKey: .blobsNeeded)
        counts = try c.decode([Change.Kind: Int].self, forKey: .counts)
    }

    /// The number of changes of `kind`.
    public func count(_ kind: Change.Kind) -> Int { counts[kind] ?? 0 }

    /// Conflicts (edited files kept) and blocked paths (tree entries that cannot be written).
    public var conflicts: [Change] { changes.filter { $0.kind == .conflict || $0.kind == .blocked } }

    /// True when applying would write or delete something.
    public var hasWork: Bool { counts.contains { kind, n in n > 0 && (kind.writes || kind == .delete) } }

    /// True when the target will equal the commit after applying (nothing blocked).
    public var isComplete: Bool { count(.blocked) == 0 }
}
