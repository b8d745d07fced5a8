import SmartSyncCore
import SmartSyncGitObjects

/// The commit checks over the shallow clone: what its history can tell, deepened a little when it must.
extension ShallowCloneSource {
    /// How far the history is deepened, step by step, to find the target's commit: the first steps cost the changed
    /// files of a few commits; past the last, the clone cannot tell.
    static let deepenSteps = [50, 500]

    /// The commit's object from the clone (fetched by id when the clone does not have it), verified by its hash.
    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        try await ensure(ResolvedRef(name: id.hex, commit: id)).commitObject(id)
    }

    /// Asks the clone's history; while it does not reach `ancestor`, deepens it (`git fetch --deepen=N` of
    /// `descendant`) by ``deepenSteps``. A history that ends (no longer shallow) without `ancestor` is a no; one still
    /// cut after the last step cannot tell.
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        if ancestor == descendant { return true }
        guard var local = cloned else { return nil }
        for step in [0] + Self.deepenSteps {
            if step > 0 {
                local = try await fetch(descendant.hex, forRef: descendant.hex, depth: ["--deepen=\(step)"])
            }
            if let answer = try await local.isAncestor(ancestor, of: descendant) { return answer }
            if !(try await local.isShallow()) { return false }
        }
        return nil
    }
}
