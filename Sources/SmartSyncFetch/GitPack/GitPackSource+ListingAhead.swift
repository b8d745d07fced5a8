import Logging
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncGitProtocol
import SmartSyncObjectStore
import Synchronization

/// The ancestry question and the listing in one request (`--transport pack` alone).
///
/// Without a per-blob path, ``isAncestor(_:of:)`` asks the git host for the new commit's history, one request before
/// the listing's own: on an update that round trip (a `git upload-pack` and a `pack-objects` on the host) was most of
/// what `--transport pack` spent beyond `--transport auto`, whose question the REST API answers beside the scan.
/// When the run has said which listing it will ask for (``listingAhead(_:hints:)``) and the question is about that
/// listing's commit and the commit it has (the usual update), the listing's own request is sent instead (the same
/// `want`, `have`s, `shallow`s, `deepen 1` and filter, held to the same limits): its commit object names its parents,
/// so a new commit whose parent is the old one (a fast-forward by one commit) is answered with no request of its own.
/// Its objects are held unpublished in the store's `tmp/` (an ``ObjectBatch`` not published, as the history walk's):
/// nothing of the new commit is named in the store before the checks pass. The listing then publishes them (its one
/// `syncfs`) and lists from them. A question it does not answer goes on as before (the history, 50 then 1,000 deep),
/// the held pack kept for the listing; a commit that is refused (or whose ancestry cannot be told) drops it.
///
/// What it costs: on a refused update, the delta of the refused commit is downloaded before the refusal (never
/// published, removed with its batch). A killed run's spool of it (`held-pack-…`) is removed unread by the next run,
/// not salvaged as a listing's pack is: its commit was never checked.
struct HeldListing {
    var commit: ObjectID
    /// What the listing asked with: a listing asking otherwise (another filter) does not take it.
    var hints: ListingHints
    var filter: String?
    /// The pack's objects, waiting in `tmp/`.
    var batch: ObjectBatch
    /// What they take from the run's `--max-download` when they are published (nil: no limit).
    var charged: Int?
}

extension GitPackSource {
    public func listingAhead(_ ref: ResolvedRef, hints: ListingHints) {
        state.withLock { $0.listingAhead = (ref.commit, hints) }
    }

    /// Asks for the listing of `descendant` said ahead (``listingAhead(_:hints:)``), holding its objects, and answers
    /// whether `ancestor` is among the new commit's parents: true, or nil when the commit names other parents (or the
    /// pack could not be had that way: the listing then asks as it would have). Asked only for the listing said
    /// ahead, about a commit the listing may say `have` for, on a host that can cut history; never for a plan on a
    /// host that cannot leave blobs out.
    ///
    /// A pack that breaks off or is refused as damaged (or past the listing's limits) is dropped and the question goes
    /// on as before; a cancelled run, or one past `--max-download`, ends here as its listing would have. The import
    /// draws from a budget of its own, as large as what the run has left: the objects take from the run's only when
    /// the listing publishes them, so a pack dropped (broken off, or its commit's ancestry not told) costs the
    /// run's later downloads nothing.
    func askListingAhead(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        guard let ahead = state.withLock({ $0.listingAhead }), ahead.commit == descendant,
            ahead.hints.haves.contains(ancestor), !store.contains(descendant),
            state.withLock({ $0.heldListing == nil }),
            let capabilities = try? await remember({ try await client.capabilities() }),
            capabilities.supportsShallow, ahead.hints.withBlobs || capabilities.supportsFilter
        else { return nil }
        state.withLock { $0.hintedHaves = ahead.hints.haves }
        let haves = usableHaves(excluding: descendant, capabilities: capabilities)
        guard haves.contains(ancestor) else { return nil }  // else the pack could be the whole tree, for a question
        let filter = listingFilter(ahead.hints, capabilities: capabilities)
        let request = PackRequest(wants: [descendant], haves: haves, shallows: haves, deepen: 1, filter: filter)
        let budget = PackBudget.commit(descendant, filter: filter, history: false, closure: nil)
        let batch = ObjectBatch(store: store)
        var held = false
        defer { if !held { batch.discard() } }
        let ownBudget = storeBudget.map { ByteBudget(limit: $0.remaining) }
        logger.debug(
            "ancestry of \(descendant.abbreviated()): asking for the listing's pack, held until the checks pass",
            metadata: ["filter": "\(filter ?? "none")"])
        do {
            try await receivePack(
                request, what: "commit \(descendant.abbreviated()) (held for the checks)", budget: budget,
                holding: batch, drawingFrom: ownBudget)
        } catch let error as SmartSyncError where [.network, .malformedResponse, .integrity].contains(error.code) {
            logger.debug(
                "ancestry of \(descendant.abbreviated()): the listing's pack failed (\(error)); asking for history")
            return nil
        }
        guard let body = try? heldCommit(descendant, in: batch), let commit = CommitObject.parse(body) else {
            return nil
        }
        held = true
        state.withLock { s in
            s.heldListing = HeldListing(
                commit: descendant, hints: ahead.hints, filter: filter, batch: batch, charged: ownBudget?.used)
        }
        return commit.parents.contains(ancestor) ? true : nil
    }

    public func withdrawListingAhead() {
        state.withLock { $0.listingAhead = nil }
        dropHeldListing()
    }

    /// Whether the ancestry question brought the listing of `ref` asked with `hints` (``askListingAhead(_:of:)``),
    /// held for ``listing(for:hints:)`` to publish with no request.
    public func holdsListing(for ref: ResolvedRef, hints: ListingHints) -> Bool {
        state.withLock { $0.heldListing.map { $0.commit == ref.commit && $0.hints == hints } ?? false }
    }

    /// Drops the held listing (a refused commit, or one whose ancestry could not be told): its objects never reach
    /// the store.
    func dropHeldListing() {
        state.withLock { s in defer { s.heldListing = nil }; return s.heldListing }?.batch.discard()
    }

    /// The listing of `ref` from the pack held for the checks (``askListingAhead(_:of:)``), published now; nil when no
    /// pack is held for it (or it was asked otherwise): the listing then asks as usual. A held pack that does not fit
    /// the `have`s (a tree the store lost, which the server left out) is asked for once more without them, as
    /// ``receivePackFittingHaves(_:what:budget:check:)`` does for a listing's own.
    func publishHeldListing(_ ref: ResolvedRef, hints: ListingHints) async throws -> TreeListing? {
        guard let held = state.withLock({ s -> HeldListing? in defer { s.heldListing = nil }; return s.heldListing })
        else { return nil }
        guard held.commit == ref.commit, held.hints == hints else {
            held.batch.discard()
            return nil
        }
        if let storeBudget, let charged = held.charged, !storeBudget.take(charged) {
            held.batch.discard()
            throw SmartSyncError(
                .limitExceeded,
                "the \(charged) bytes of the pack for commit \(ref.commit.abbreviated()) would take this run past the "
                    + "\(ByteCount.text(storeBudget.limit)) (\(storeBudget.limit) bytes) it may add to the store "
                    + "(--max-download; \(storeBudget.used) bytes taken)",
                hint: "raise --max-download if the repository is really this large")
        }
        try held.batch.publish()
        let listing: TreeListing
        do {
            listing = try StoredTrees.listing(commit: ref.commit, in: store)
        } catch {
            let what = "commit \(ref.commit.abbreviated()) of \(ref.name)"
            let reason = (error as? SmartSyncError)?.message ?? "\(error)"
            notice("the pack for \(what) did not fit the commits this store has (\(reason)); asking again without them")
            let request = PackRequest(wants: [ref.commit], deepen: 1, filter: held.filter)
            let budget = PackBudget.commit(ref.commit, filter: held.filter, history: false, closure: nil)
            return try await receivePackFittingHaves(request, what: what, budget: budget) {
                guard store.contains(ref.commit) else {
                    throw MissingWants([(id: ref.commit, name: "commit \(ref.commit)")])
                }
                return try StoredTrees.listing(commit: ref.commit, in: store)
            }.value
        }
        logger.debug("listing of \(ref.commit.abbreviated()): from the pack the checks received, no request")
        state.withLock { s in
            if held.filter?.hasPrefix("blob:limit") == true { s.filteredCommits.insert(ref.commit) }
            if hints.withBlobs { s.packedWithBlobs.insert(ref.commit) }
        }
        return listing
    }
}

extension ObjectBatch {
    /// Removes every object waiting in the batch now, not when its last reference goes: an import's thread may let go
    /// of it a moment after handing over its result, and a dropped pack's objects should be gone when the drop is.
    /// Only once no import writes into the batch (``GitPackSource/receivePack(_:what:budget:holding:drawingFrom:)``
    /// returns after its import).
    func discard() {
        for id in pendingIDs { drop(id) }
    }
}
