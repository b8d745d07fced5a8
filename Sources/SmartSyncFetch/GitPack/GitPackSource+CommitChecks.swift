import Logging
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncGitProtocol
import SmartSyncObjectStore
import Synchronization

/// The commit checks on the git host.
///
/// - A commit's bytes come from the store when a pack brought them already; otherwise from a pack of that commit
///   alone (`want <id>`, `deepen 1`, `filter tree:0`: one object, refused if the pack holds anything else), or, from a
///   host that cannot cut history or filter, from the per-blob path (the API) or the commit's pack as a listing asks
///   for it. Either way the bytes are checked against the id.
/// - Ancestry: protocol v2 has no question for it, so the per-blob path (the REST API's compare) answers; without one
///   (`--transport pack`) this source cannot tell.
extension GitPackSource {
    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        if !store.contains(id) {
            let capabilities = try await remember { try await client.capabilities() }
            if capabilities.supportsShallow && capabilities.supportsFilter {
                let request = PackRequest(wants: [id], deepen: 1, filter: "tree:0")
                let budget = PackBudget(
                    limits: PackLimits(
                        maxObjects: 1, contents: .only([id]), asked: "commit \(id.abbreviated()) alone"))
                logger.debug("commit \(id.abbreviated()): asking for the commit alone (deepen 1, filter tree:0)")
                try await receivePack(request, what: "commit \(id.abbreviated())", budget: budget)
            } else if let raw {
                return try await consultRaw { try await raw.commitObject(id) }
            } else {
                try await fetchCommitPack(
                    ResolvedRef(name: id.hex, commit: id), filter: capabilities.supportsFilter ? "blob:none" : nil,
                    capabilities: capabilities)
            }
        }
        guard store.contains(id) else {
            throw SmartSyncError(
                .malformedResponse, "the pack from \(repositoryURL) did not contain the wanted commit \(id)")
        }
        return try CommitObject.verified(try store.read(id), id: id, from: displayName)
    }

    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        if ancestor == descendant { return true }
        guard let raw else {
            logger.debug("ancestry of \(descendant.abbreviated()): the pack transport alone cannot tell")
            return nil
        }
        return try await consultRaw { try await raw.isAncestor(ancestor, of: descendant) }
    }

    /// Runs a commit check on the per-blob path: its requests are counted in ``statistics`` (the transport stays
    /// `pack`), and its failure is thrown as ``SourceFailure/Reason/delegated``, as ``onRawPath(_:)`` does.
    func consultRaw<T>(_ body: () async throws -> T) async throws -> T {
        state.withLock { $0.consultedRaw = true }
        do {
            return try await body()
        } catch let failure as SourceFailure {
            throw SourceFailure(.delegated, failure.error)
        } catch let error as SmartSyncError {
            throw SourceFailure(.delegated, error)
        }
    }
}
