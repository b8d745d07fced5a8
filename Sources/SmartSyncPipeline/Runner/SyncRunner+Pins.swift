import Logging
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Commits `warm --pin` kept: a sync of one named by its full id needs no request, so a warmed host syncs with the
/// network down (issue 14: warm through a cache, sync in the maintenance window), commit checks included.
extension SyncRunner {
    /// The store's pins for this run, through their index (``PinStore/index()``): one small file, whatever the
    /// listings weigh. Unreadable pins are logged and not used.
    func loadPins() async -> PinIndex {
        do {
            return try await PinStore(store: store).index()
        } catch {
            logger.warning("the store's pins could not be read, not used: \(error)")
            return PinIndex()
        }
    }

    /// The verified listing of a pin of `commit`, if any pin in the store holds that commit (under any name: a commit
    /// warmed as `main` and synced by its id). A pin's listing was verified against the commit's tree when it was
    /// pinned; it is checked again here (unsafe paths, trees hashed up to the root) before it is used. A pin that does
    /// not verify is logged and not used (the source is asked); an unsafe path (a pin an earlier release made of a tree
    /// this one refuses, such as a name of the temporary shape) is thrown: the source would list the same tree.
    func pinnedListing(of commit: ObjectID, in pins: PinIndex) throws -> TreeListing? {
        guard let pinned = pins.pinned(commit) else { return nil }
        guard let listing = PinStore(store: store).listing(of: pinned) else {
            logger.warning(
                "the pin of commit \(commit.hex) (\(pinned.names.joined(separator: ", "))) cannot be read, not used")
            return nil
        }
        do {
            try listing.validateAndVerify()
        } catch let error as SmartSyncError where error.code == .integrity {  // verify()'s: an unsafe path is thrown
            let names = pinned.names.joined(separator: ", ")
            logger.warning("pin '\(names)' of commit \(commit.hex) does not verify, not used: \(error)")
            return nil
        }
        return listing
    }

    /// `ref` as a full commit id that a pin holds: resolved with no request (its root tree from the index, checked
    /// against the commit's own object when the pin has it).
    func resolveFromPin(_ ref: String?, in pins: PinIndex) -> ResolvedRef? {
        guard let ref, case .commit(let id)? = try? RefName(ref).kind, let pinned = pins.pinned(id) else {
            return nil
        }
        logger.debug("ref \(ref): a pinned commit, no request", metadata: ["commit": "\(id.hex)"])
        return ResolvedRef(name: ref, commit: id, rootTree: pinned.rootTree)
    }

    /// The most ancestry questions `warm --pin` asks of the source for one commit.
    static let pinQuestions = 16

    /// Pins `listing`'s commit under `name` (``PinStore``) with what the commit checks need to run offline: the
    /// commit's object (``SyncSource/commitObject(_:)``, when the source can give it) and how it stands to the commits
    /// a later sync may move a target from: every target's current commit (in each state directory that uses the
    /// store) and every other pin's commit, asked of the source now (``SyncSource/isAncestor(_:of:)``, the question
    /// the sync would ask; at most ``pinQuestions``, targets first, none the pins or the commit's own parents answer
    /// already). An answer the source cannot give is left out (the sync asks the source then, as without a pin).
    /// Returns the new index.
    func pinWarmed(_ name: String, listing: TreeListing, pins: PinIndex) async throws -> PinIndex {
        let commit = listing.commit
        var object = pins.commitObject(commit)
        if object == nil {
            do {
                object = try CommitObject.verified(
                    try await source.commitObject(commit), id: commit, from: source.displayName)
            } catch {
                logger.debug("pin \(name): the object of commit \(commit.abbreviated()) is not kept: \(error)")
            }
        }
        let parsed = object.flatMap(CommitObject.parse)
        if object != nil, parsed?.tree != listing.rootTree {
            throw SmartSyncError(
                .integrity,
                "commit \(commit)'s object names tree \(parsed?.tree.hex ?? "none"), but \(source.displayName) listed "
                    + "tree \(listing.rootTree) for it; not pinned",
                hint: "the source is damaged or lying; try another source")
        }
        // Answered already: by the pins, or through a parent of the commit (its object is kept with the pin).
        let parents = parsed?.parents ?? []
        func placed(_ other: ObjectID) -> Bool {
            pins.isAncestor(other, of: commit) != nil || parents.contains { pins.isAncestor(other, of: $0) == true }
        }
        var facts: [AncestryFact] = []
        var questions = 0
        let relatives = targetCommits() + pins.commits.keys.sorted()
        var seen: Set<ObjectID> = [commit]
        for other in relatives where seen.insert(other).inserted && !placed(other) {
            guard questions < Self.pinQuestions else {
                logger.debug("pin \(name): more than \(Self.pinQuestions) commits to place, the rest not asked")
                break
            }
            questions += 1
            do {
                if let answer = try await source.isAncestor(other, of: commit) {
                    facts.append(AncestryFact(ancestor: other, descendant: commit, holds: answer))
                }
            } catch {
                logger.debug("pin \(name): whether \(other.abbreviated()) is an ancestor could not be asked: \(error)")
            }
        }
        let kept = object == nil ? "not kept" : "kept"
        logger.debug(
            "pin \(name): commit \(commit.abbreviated()), \(facts.count) ancestry answers, commit object \(kept)")
        return try await PinStore(store: store).pin(name, listing: listing, commitObject: object, ancestry: facts)
    }

    /// The commits the store's targets are at: every target with a state, in each state directory registered with
    /// the store (``StoreUsers``) and this runner's.
    func targetCommits() -> [ObjectID] {
        var roots = Set(StoreUsers(store: store).list().map(\.root))
        roots.insert(StateStore.normalize(state.root))
        var commits: [ObjectID] = []
        for root in roots.sorted() {
            for key in (try? FileSystem.names(in: root + "/targets")) ?? [] where ObjectID(hex: key) != nil {
                guard let state = try? TargetState.read(from: root + "/targets/" + key + "/state") else { continue }
                commits.append(state.commit)
            }
        }
        return commits
    }
}
