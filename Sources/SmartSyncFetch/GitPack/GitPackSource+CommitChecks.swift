import Logging
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncGitProtocol
import SmartSyncObjectStore
import Synchronization

/// The commit checks on the git host.
///
/// - A commit's bytes come from the store when a pack brought them already; otherwise from a pack of that commit
///   alone (`want <id>`, `deepen 1`, `filter tree:0`: one object, refused if the pack holds anything else; held
///   unpublished and kept in the run's memory, never in the store before the commit's checks), or, from a
///   host that cannot cut history or filter, from the per-blob path (the API) or the commit's pack as a listing asks
///   for it, published before the checks (accepted, ARCHITECTURE "Commit checks": that pack is the whole history
///   or the whole tree with its blobs, too big to hold for a question). Either way the bytes are checked against the
///   id.
/// - Ancestry: protocol v2 has no question for it, so the per-blob path (the REST API's compare) answers; without one
///   (`--transport pack`), the descendant's history is asked for as commits alone (`deepen N`, `filter tree:0`: a few
///   hundred bytes a commit), 50 then 1,000 deep, and walked through the store and those commits; past that it cannot
///   tell. Those commits are held in the store's `tmp/` for the walk, never published into it (an unpublished
///   ``ObjectBatch``, dropped after): the answer needs no `syncfs` of its own, which an update paid at every run
///   (1-40 ms, BENCHMARKS "The 1 GiB update: one sync a batch"); the listing's pack brings the wanted commit itself.
extension GitPackSource {
    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        if let held = state.withLock({ $0.historyCommits[id] }) {
            return try CommitObject.verified(held, id: id, from: displayName)
        }
        if !store.contains(id) {
            let capabilities = try await remember { try await client.capabilities() }
            if capabilities.supportsShallow && capabilities.supportsFilter {
                let request = PackRequest(wants: [id], deepen: 1, filter: "tree:0")
                let budget = PackBudget(
                    limits: PackLimits(
                        maxObjects: 1, contents: .only([id]), asked: "commit \(id.abbreviated()) alone"))
                logger.debug("commit \(id.abbreviated()): asking for the commit alone (deepen 1, filter tree:0)")
                // Held unpublished (`held-pack-`, as the history walk's commits): the commit is asked for its checks,
                // so it reaches the store only with the listing's pack, after them; a killed run's spool is removed
                // unread, never salvaged into the store. Read back, checked against its id, kept in the run's memory.
                let held = ObjectBatch(store: store)
                defer { held.discard() }
                try await receivePack(request, what: "commit \(id.abbreviated())", budget: budget, holding: held)
                guard let body = try heldCommit(id, in: held) else {
                    throw SmartSyncError(
                        .malformedResponse, "the pack from \(repositoryURL) did not contain the wanted commit \(id)")
                }
                return body
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
        return try Self.storedCommit(try store.read(id), id: id, at: store.path(for: id))
    }

    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        if ancestor == descendant { return true }
        if let raw { return try await consultRaw { try await raw.isAncestor(ancestor, of: descendant) } }
        // The pack transport alone: the history's commits (no trees, no blobs), deeper step by step, walked here.
        let capabilities = try await remember { try await client.capabilities() }
        guard capabilities.supportsShallow && capabilities.supportsFilter else {
            logger.debug("ancestry of \(descendant.abbreviated()): the git host cannot cut or filter history")
            return nil
        }
        // The listing said ahead, asked for now and held: its commit's parents answer a fast-forward by one commit.
        if try await askListingAhead(ancestor, of: descendant) == true { return true }
        // A commit whose ancestry is not told (or not asked: the walk failed) is refused: its held pack goes now.
        let answer: Bool?
        do {
            answer = try await walkHistoryPacks(ancestor, of: descendant)
        } catch {
            dropHeldListing()
            throw error
        }
        if answer != true { dropHeldListing() }
        return answer
    }

    /// The history of `descendant`, asked for deeper step by step (``historySteps``), walked for `ancestor`.
    private func walkHistoryPacks(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        // The history's commits, held unpublished for the walk (no sync) and dropped with it.
        let held = ObjectBatch(store: store)
        defer { held.discard() }
        for depth in Self.historySteps {
            if let answer = walkHistory(from: descendant, looking: ancestor, held: held) { return answer }
            // `have` the old commit (its object is in the store from its own sync): the server stops there, so for an
            // update the pack holds only the commits between the two.
            let haves = store.contains(ancestor) ? [ancestor] : []
            let request = PackRequest(wants: [descendant], haves: haves, deepen: depth, filter: "tree:0")
            let budget = PackBudget(
                limits: PackLimits(
                    maxObjects: PackLimits.defaultMaxObjects, blobSizeLimit: 0,
                    contents: .reachable(from: [descendant], history: true),
                    asked: "the \(depth) commits of history below \(descendant.abbreviated())"))
            logger.debug("ancestry of \(descendant.abbreviated()): asking for \(depth) commits of its history (tree:0)")
            try await receivePack(
                request, what: "the history of \(descendant.abbreviated())", budget: budget, holding: held)
        }
        return walkHistory(from: descendant, looking: ancestor, held: held)
    }

    /// How deep the history is asked for, step by step (commits only: a few hundred bytes each).
    static let historySteps = [50, 1000]

    /// Walks the parents of `start` through the commits earlier walks of the run verified, the store's and those
    /// `held`: true when `wanted` is among them; false when every path ends at a root commit; nil when a parent is in
    /// none (the history asked for so far ends). The commits read are kept in memory (`historyCommits`,
    /// verified: a few hundred bytes each) for ``commitObject(_:)`` and the next walk: the questions `warm --pin` asks
    /// about one commit (up to 16) download its history once, not once each.
    func walkHistory(from start: ObjectID, looking wanted: ObjectID, held: ObjectBatch) -> Bool? {
        var queue = [start]
        var seen: Set<ObjectID> = [start]
        var cut = false
        while let id = queue.popLast() {
            if id == wanted { return true }
            // Any failure reads as a cut history ("cannot tell"), store damage included: the walk only answers
            // whether it can tell; the commit's own read (`commitObject`) reports the damage with its fsck hint.
            guard let body = try? heldCommit(id, in: held), let commit = CommitObject.parse(body) else {
                cut = true
                continue
            }
            for parent in commit.parents where seen.insert(parent).inserted { queue.append(parent) }
        }
        return cut ? nil : false
    }

    /// The commit `id`'s bytes: from the run's memory (`historyCommits`), else read from `held`, waiting there or
    /// in the store (another sync on the same store may have stored it meanwhile: a batch then drops its own copy),
    /// never through a link or into a FIFO at the path; checked against the id (``storedCommit(_:id:at:)``, hashed
    /// once) and kept in memory. Nil when neither has it.
    ///
    /// - Throws: store damage naming the object and its path when its bytes are not the commit's
    ///   (``ObjectStore/notItsBytes(_:at:hashTo:)``): the batch's writer and the store's import hashed them.
    func heldCommit(_ id: ObjectID, in held: ObjectBatch) throws -> [UInt8]? {
        if let kept = state.withLock({ $0.historyCommits[id] }) { return kept }
        let path = held.readablePath(for: id)
        guard held.contains(id), let read = try? FileSystem.readRegularFileIfPresent(path)?.bytes else { return nil }
        let body = try Self.storedCommit(read, id: id, at: path)
        state.withLock { $0.historyCommits[id] = body }
        return body
    }

    /// `body`, read at `path` (the store's object or a batch's file), when it hashes to commit `id`; else the local
    /// store's damage (``ObjectStore/notItsBytes(_:at:hashTo:)``: a failover stops, the hint runs `fsck --repair`),
    /// not the source's `.integrity` (``CommitObject/verified(_:id:from:)``), which checks what a source sent.
    static func storedCommit(_ body: [UInt8], id: ObjectID, at path: String) throws -> [UInt8] {
        let actual = ObjectID.hash(.commit, body)
        guard actual == id else { throw ObjectStore.notItsBytes(id, at: path, hashTo: actual) }
        return body
    }

    /// Runs a commit check on the per-blob path: its requests are counted in ``statistics`` (the transport stays
    /// `pack`), and its failure is thrown as ``SourceFailure/Reason/delegated``, as ``onRawPath(_:)`` does.
    func consultRaw<T>(_ body: () async throws -> T) async throws -> T {
        state.withLock { $0.consultedRaw = true }
        return try await Self.delegated(body)
    }
}
