import FoundationEssentials
import Glibc
import Logging
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// The steps ``SyncRunner/sync(_:)``, ``SyncRunner/plan(_:)`` and ``SyncRunner/warm(refs:pin:each:)`` share.
extension SyncRunner {
    /// The commit `ref` names. A full commit id the target already has asks the source nothing: a commit id names
    /// one tree for good, and that one was verified when it was applied (a no-op by commit id makes no request).
    /// `asked`: the source's answer, asked ahead (``resolveAhead(_:)``), or nil to ask now.
    func resolve(_ ref: String?, applied: TargetState?, pins: PinIndex, asked: ResolvedRef? = nil) async throws
        -> ResolvedRef
    {
        if let ref, let applied, case .commit(let id)? = try? RefName(ref).kind, id == applied.commit {
            logger.debug("ref \(ref): the commit the target has, no request", metadata: ["commit": "\(id.hex)"])
            return ResolvedRef(name: ref, commit: id)
        }
        if let pinned = resolveFromPin(ref, in: pins) { return pinned }
        let resolved: ResolvedRef
        if let asked { resolved = asked } else { resolved = try await source.resolve(ref) }
        var metadata: Logger.Metadata = [
            "ref": "\(ref ?? "HEAD")", "commit": "\(resolved.commit.hex)", "transport": "\(source.transport)",
        ]
        if let reason = source.fallbackReason { metadata["fallback"] = "\(reason)" }
        logger.debug(
            "ref \(ref ?? "HEAD") → commit \(resolved.commit.hex) (\(source.displayName))", metadata: metadata)
        return resolved
    }

    /// The source's answer for `ref`, for a run to ask before it reads the target's state
    /// (``resolve(_:applied:pins:asked:)`` takes it): nil for a full commit id, which the target's state or a pin may
    /// answer with no request, and wherever the source would resolve through the shallow clone (`--force-full`, or a
    /// failover to it during this call), whose resolve is the whole `git fetch`: not worth starting before the run
    /// knows it can go on (a child process is not cancelled with the run) (``SyncSource/resolveAhead(_:)``).
    func resolveAhead(_ ref: String?) async throws -> ResolvedRef? {
        if case .commit? = try? RefName(ref).kind { return nil }
        return try await source.resolveAhead(ref)
    }

    /// The tree listing for `resolved`: from the previous state when it is the same commit (verified when it
    /// was applied) and that state was applied with no exclude this run lacks (`excludes`, the run's globs),
    /// otherwise from the source, checked for unsafe paths and hashed up to the root tree. An excluded path's manifest
    /// entry is an older commit's, carried over, and a path the commit added under an exclude is missing: that
    /// manifest is not the commit's listing for a run without the exclude (``TargetState/excludes``).
    /// `isPreviousManifest`: the listing is the previous manifest as it was recorded (its entries, nothing kept
    /// local added): a file the scan finds unchanged has the manifest's id (hashed, or vouched for by the stat cache).
    /// A listing from the manifest is the manifest itself (``CommitListing/Entries/manifest(_:)``), no copy.
    func verifiedListing(
        _ resolved: ResolvedRef, previous: TargetState?, excludes: [String] = [], hints: ListingHints, pins: PinIndex
    ) async throws -> (listing: CommitListing, isPreviousManifest: Bool) {
        if let previous, previous.commit == resolved.commit {
            if previous.isListing(forExcludes: excludes) {
                let files = previous.commitFiles  // a merge copies every path: made only when keptLocal is not empty
                logger.debug("listing: the target's manifest of this commit (verified when applied), no request")
                events(.listed(commit: resolved.commit, entries: files.count, verified: true))
                let listing = CommitListing(
                    commit: resolved.commit, rootTree: resolved.rootTree ?? .emptyTree, manifest: files)
                return (listing, previous.keptLocal.isEmpty)
            }
            logger.debug(
                "listing: the target's manifest was applied with excludes this run lacks (or unknown); listed anew")
        }
        if let pinned = try pinnedListing(of: resolved.commit, in: pins),
            pinned.rootTree == resolved.rootTree ?? pinned.rootTree
        {
            logger.debug("listing: the pin of this commit (verified when pinned), no request")
            let listing = CommitListing(pinned)
            events(.listed(commit: resolved.commit, entries: listing.fileCount, verified: true))
            return (listing, false)
        }
        let listing = try await source.listing(for: resolved, hints: hints)
        if let known = resolved.rootTree, known != listing.rootTree {
            throw SmartSyncError(
                .integrity,
                "the source listed tree \(listing.rootTree) for commit \(resolved.commit), whose tree "
                    + "is \(known); refusing to sync"
            )
        }
        try listing.validateAndVerify()
        // Counted as the manifest counts on a no-op: files and symlinks (no directories, no submodules).
        let verified = CommitListing(listing)
        events(.listed(commit: resolved.commit, entries: verified.fileCount, verified: true))
        return (verified, false)
    }

    /// `listing` as the appliers take it: the listing, or one made from the manifest now (logged: a run at the
    /// target's commit makes it only when it applies something).
    func treeListing(of listing: CommitListing) -> TreeListing {
        if case .manifest = listing.entries { logger.debug("listing: the manifest made a tree listing, for the apply") }
        return listing.treeListing
    }

    /// After a run that found nothing to do at the target's commit although its state was applied with excludes this
    /// run lacks (or unknown ones), listed anew (``verifiedListing(_:previous:excludes:hints:pins:)``): a no-op
    /// records no state, so every later run would list anew too. When the state's files (``TargetState/commitFiles``)
    /// differ from the commit's listing only at paths this run excludes (an exclude whose paths the commit did not
    /// change; carried-over entries of the run's own excludes, after a rollback or an apply that failed once its intent
    /// retagged the excludes file), they are the listing for a run with this run's excludes, as after an apply with
    /// them: those are recorded for the state, one small file. Otherwise (a path the run does not exclude, say one the
    /// operator made the commit's version by hand) nothing is, and the runs list anew until the next apply. An
    /// interrupted run's intent loses its own record (its excludes then read as unknown: listed anew should it be
    /// recorded as the state, the safe side); nothing but that recovery reads it.
    func recordExcludesOfNoOp(_ previous: TargetState?, listing: TreeListing, excludes: ExcludeSet) {
        guard var previous, previous.commit == listing.commit, !previous.isListing(forExcludes: excludes.globs),
            previous.commitFiles.equals(Manifest(listing: listing), outside: excludes)
        else { return }
        previous.excludes = excludes.globs
        do {
            try state.saveExcludes(of: previous)
            logger.debug("excludes: the manifest is the commit's listing outside them; the run's excludes recorded")
        } catch {
            logger.debug("excludes: not recorded (\(error)); the next run lists anew")
        }
    }

    func fetch(_ missing: [NeededBlob], of resolved: ResolvedRef) async throws -> FetchReport {
        guard !missing.isEmpty else { return FetchReport() }
        let total = missing.count
        let totalBytes = missing.allSatisfy { $0.size != nil } ? missing.knownBytes : nil
        let counters = Locked((blobs: 0, bytes: 0))
        let events = self.events
        let progress = FetchProgress(
            bytes: { n in
                let (b, bytes) = counters.withLock { c -> (Int, Int) in
                    c.bytes += n
                    return (c.blobs, c.bytes)
                }
                events(.progress(blobsDone: b, blobsTotal: total, bytesDone: bytes, bytesTotal: totalBytes))
            },
            blobDone: { _ in
                let (b, bytes) = counters.withLock { c -> (Int, Int) in
                    c.blobs += 1
                    return (c.blobs, c.bytes)
                }
                events(.progress(blobsDone: b, blobsTotal: total, bytesDone: bytes, bytesTotal: totalBytes))
            })
        let wants = missing.map { BlobWant(id: $0.id, path: $0.path, size: $0.size) }
        return try await source.fetch(wants, of: resolved, into: store, progress: progress)
    }

    static func summarize(_ plan: Plan, missing: [NeededBlob], localEdits: [String] = []) -> PlanSummary {
        var counts: [String: Int] = [:]
        for (kind, n) in plan.counts where n > 0 { counts[kind.rawValue] = n }
        return PlanSummary(counts: counts, missing: missing, upToDate: !plan.hasWork, localEdits: localEdits)
    }

    static func nowNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
