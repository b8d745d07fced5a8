import Logging
import SmartSyncFetch
import SmartSyncGitObjects

/// Commits `warm --pin` kept: a sync of one named by its full id needs no request, so a warmed host syncs with the
/// network down (issue 14: warm through a cache, sync in the maintenance window).
extension SyncRunner {
    /// The verified listing of a pin of `commit`, if any pin in the store holds that commit (under any name: a commit
    /// warmed as `main` and synced by its id). A pin's listing was verified against the commit's tree when it was
    /// pinned; it is checked again here (unsafe paths, trees hashed up to the root) before it is used.
    func pinnedListing(of commit: ObjectID) -> TreeListing? {
        guard let pins = try? PinStore(store: store).list(),
            let pin = pins.first(where: { $0.commit == commit })
        else { return nil }
        do {
            try pin.listing.validate()
            try pin.listing.verify()
        } catch {
            logger.warning("pin '\(pin.name)' of commit \(commit.hex) does not verify, not used: \(error)")
            return nil
        }
        return pin.listing
    }

    /// `ref` as a full commit id that a pin holds: resolved with no request.
    func resolveFromPin(_ ref: String?) -> ResolvedRef? {
        guard let ref, case .commit(let id)? = try? RefName(ref).kind, let listing = pinnedListing(of: id) else {
            return nil
        }
        logger.debug("ref \(ref): a pinned commit, no request", metadata: ["commit": "\(id.hex)"])
        return ResolvedRef(name: ref, commit: id, rootTree: listing.rootTree)
    }
}
