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
    func verifiedListing(
        _ resolved: ResolvedRef, previous: TargetState?, excludes: [String] = [], hints: ListingHints, pins: PinIndex
    ) async throws -> (listing: TreeListing, isPreviousManifest: Bool) {
        if let previous, previous.commit == resolved.commit {
            if previous.excludes?.allSatisfy(excludes.contains) == true {
                // The manifest plus what --keep-local left out of it: the commit's whole listing.
                // (Merged only when there is something to add: a merge copies every path.)
                let files =
                    previous.keptLocal.isEmpty
                    ? previous.manifest.entries : previous.manifest.union(previous.keptLocal).entries
                let entries = zip(files.keys, files.values).map { TreeEntry(path: $0, mode: $1.mode, id: $1.id) }
                logger.debug("listing: the target's manifest of this commit (verified when applied), no request")
                events(.listed(commit: resolved.commit, entries: entries.count, verified: true))
                let listing = TreeListing(
                    commit: resolved.commit, rootTree: resolved.rootTree ?? .emptyTree, entries: entries)
                return (listing, previous.keptLocal.isEmpty)
            }
            logger.debug(
                "listing: the target's manifest was applied with excludes this run lacks (or unknown); listed anew")
        }
        if let pinned = try pinnedListing(of: resolved.commit, in: pins),
            pinned.rootTree == resolved.rootTree ?? pinned.rootTree
        {
            logger.debug("listing: the pin of this commit (verified when pinned), no request")
            let files = pinned.entries.count { $0.mode != .tree && $0.mode != .gitlink }
            events(.listed(commit: resolved.commit, entries: files, verified: true))
            return (pinned, false)
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
        let entries = listing.entries.count { $0.mode != .tree && $0.mode != .gitlink }
        events(.listed(commit: resolved.commit, entries: entries, verified: true))
        return (listing, false)
    }

    /// After a run that found nothing to do at the target's commit although its state was applied with excludes this
    /// run lacks (or unknown ones), listed anew (``verifiedListing(_:previous:excludes:hints:pins:)``): a no-op
    /// records no state, so every later run would list anew too. When the manifest (with what was kept local) is the
    /// commit's listing, entry for entry (an exclude whose paths the commit did not change), the state's excludes are
    /// recorded again as this run's, one small file; otherwise (carried-over entries) they stay, and so does the
    /// listing anew until the next apply. Not with an interrupted run's intent (its excludes file is the intent's).
    func recordExcludesOfNoOp(_ previous: TargetState?, listing: TreeListing, excludes: [String], interrupted: Bool) {
        guard !interrupted, var previous, previous.commit == listing.commit,
            previous.excludes?.allSatisfy(excludes.contains) != true
        else { return }
        let files = listing.files
        let recorded = previous.keptLocal.isEmpty ? previous.manifest : previous.manifest.union(previous.keptLocal)
        guard files.count == recorded.count,
            files.allSatisfy({ file in recorded[file.path].map { $0.mode == file.mode && $0.id == file.id } == true })
        else { return }
        previous.excludes = excludes
        do {
            try state.saveExcludes(of: previous)
            logger.debug("excludes: the manifest is the commit's listing; the run's excludes recorded")
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
