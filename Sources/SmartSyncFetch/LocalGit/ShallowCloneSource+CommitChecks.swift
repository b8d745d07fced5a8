import SmartSyncCore
import SmartSyncGitObjects

/// The commit checks over the shallow clone: what its one-commit-deep history can tell.
extension ShallowCloneSource {
    /// The commit's object from the clone (fetched by id when the clone does not have it), verified by its hash.
    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        try await ensure(ResolvedRef(name: id.hex, commit: id)).commitObject(id)
    }

    /// True when the clone holds both commits and git finds the one in the other's history; nil otherwise: a depth-1
    /// clone rarely holds the target's previous commit, and its "no" may be only where its history was cut.
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        if ancestor == descendant { return true }
        guard let local = cloned else { return nil }
        return try await local.isAncestor(ancestor, of: descendant)
    }
}
