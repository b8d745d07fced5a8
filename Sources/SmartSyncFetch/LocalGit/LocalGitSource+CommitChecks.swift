import SmartSyncCore
import SmartSyncGitObjects

/// The commit checks (``SyncSource/commitObject(_:)``, ``SyncSource/isAncestor(_:of:)``) over a local repository.
extension LocalGitSource {
    /// `git cat-file commit <id>`, verified by its hash.
    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        try await checkRepository()
        let r = try await git(["cat-file", "commit", id.hex])
        guard r.status == 0 else {
            throw SmartSyncError(
                .notFound, "commit \(id) is not in the local repository \(repository) (git said: \(r.errorExcerpt))",
                hint: "is it a shallow or partial clone?")
        }
        return try CommitObject.verified(r.stdout, id: id, from: displayName)
    }

    /// `git merge-base --is-ancestor`: exit 0 yes, 1 no; nil when either commit is missing (a shallow repository,
    /// or history rewritten and pruned).
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        if ancestor == descendant { return true }
        try await checkRepository()
        for id in [ancestor, descendant] {
            guard try await git(["cat-file", "-e", id.hex + "^{commit}"]).status == 0 else { return nil }
        }
        let r = try await git(["merge-base", "--is-ancestor", ancestor.hex, descendant.hex])
        switch r.status {
        case 0: return true
        case 1: return try await isShallow() ? nil : false
        default: return nil
        }
    }

    /// True when the repository is shallow: a "no" from its cut history may be wrong.
    func isShallow() async throws -> Bool {
        let r = try await git(["rev-parse", "--is-shallow-repository"])
        return String(decoding: r.stdout, as: UTF8.self).hasPrefix("true")
    }
}
