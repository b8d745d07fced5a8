import FoundationEssentials
import Glibc
import Logging
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncGitProtocol
import SmartSyncObjectStore
import Synchronization

extension GitPackSource {
    /// Asks for one pack, spools it beside the store and imports it while it arrives, held to `budget` (see
    /// ``PackBudget``). When the transfer breaks off, the objects that arrived whole are imported all the same (a
    /// rerun then asks only for the rest) and the transfer's error is thrown. When the import refuses the pack (or
    /// finds it damaged) before the transfer ends, the transfer is stopped at once and the import's error thrown.
    ///
    /// The spool is locked (`flock`) while this run owns it, and only then given its `pack-` name, with its limits
    /// beside it (`pack-….limits`): a later run imports the spool of a run that was killed (``salvageSpools()``),
    /// held to the same limits, never one that is still being written. A pack imported into a batch `holding` it
    /// unpublished (asked for before a commit's checks: the listing's pack, ``askListingAhead(_:of:)``, the
    /// ancestry walk's history, ``isAncestor(_:of:)``, and the commit alone, ``commitObject(_:)``) is named
    /// `held-pack-…` instead: a later run removes it unread,
    /// since nothing of it may reach the store before the commit's checks pass (and a killed run never passed them).
    /// smart-sync 0.1.0 looks only for `pack-` spools, and removes the rest with its stale temporaries.
    ///
    /// The import takes what it stores from `drawingFrom` when given, else from the run's `--max-download`
    /// (`storeBudget`).
    ///
    /// - Returns: the pack's size in bytes.
    @discardableResult
    func receivePack(
        _ request: PackRequest, what: String, budget: PackBudget, holding: ObjectBatch? = nil,
        drawingFrom: ByteBudget? = nil
    ) async throws -> Int {
        let name = FileSystem.temporaryName(holding == nil ? Self.spoolPrefix : Self.heldSpoolPrefix)
        let base = store.temporaryDirectory + "/" + name
        let (staging, spool, limitsFile) = (base + ".locking", base + ".pack", base + ".limits")
        let lockFD = open(staging, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw SmartSyncError.io("open", path: staging) }
        defer {
            unlink(limitsFile)
            unlink(spool)
            unlink(staging)
            closeDescriptor(lockFD)
        }
        guard flock(lockFD, LOCK_EX) == 0 else { throw SmartSyncError.io("lock", path: spool) }
        try writeLimits(budget.limits, to: limitsFile)
        guard rename(staging, spool) == 0 else { throw SmartSyncError.io("rename", path: spool) }
        state.withLock { $0.stats.packRequests += 1 }
        // The import runs while the pack arrives (as `git index-pack` does), on a thread of its own; it waits for
        // bytes at the end of the spool until the transfer ends.
        let arrival = PackArrival()
        let importing = Self.startImport(
            spool, into: store, arrival: arrival, limits: budget.limits, budget: drawingFrom ?? storeBudget,
            holding: holding)
        let transfer = Task {
            try await remember {
                try await client.fetch(
                    request, spoolTo: spool, packProgress: { arrival.grew(to: $0) }, limit: budget.response)
            }
        }
        // An import that fails while the pack still arrives (refused, or damaged) stops the transfer: the rest of a
        // pack that is refused anyway is not worth its bytes.
        let ended = Locked((transfer: false, stoppedByImport: false))
        let stopper = Task {
            guard case .failure = await importing.result else { return }
            let stop = ended.withLock { s -> Bool in
                s.stoppedByImport = !s.transfer
                return s.stoppedByImport
            }
            if stop { transfer.cancel() }
        }
        var transferError: (any Error)?
        do {
            _ = try await withTaskCancellationHandler { try await transfer.value } onCancel: { transfer.cancel() }
        } catch {
            transferError = error
        }
        ended.withLock { $0.transfer = true }
        arrival.finish()
        var st = stat()
        let size = stat(spool, &st) == 0 ? Int(st.st_size) : 0
        let imported = await importing.result
        await stopper.value
        switch imported {
        case .success(let report):
            state.withLock { $0.stats.packObjects += report.objects }
            logger.debug(
                "pack for \(what): \(size) bytes, \(report.objects) objects imported",
                metadata: [
                    "wants": "\(request.wants.count)", "haves": "\(request.haves.map { $0.abbreviated() })",
                    "filter": "\(request.filter ?? "none")", "depth": "\(request.deepen.map(String.init) ?? "full")",
                ])
        case .failure(let error as SmartSyncError):
            // A broken transfer explains a truncated pack better than the importer does (an empty spool, the request
            // failing before any pack byte, says nothing of its own); a pack refused or damaged while it arrived is
            // the importer's to explain.
            // Damage in the local store (a planted file at an object's path) is no fault of the pack: thrown as it is,
            // local (no failover, the capability cache kept), with its own repair hint.
            if error.isStoreDamage { throw error }
            if transferError == nil || ended.withLock({ $0.stoppedByImport }) {
                capabilityCache.clear()
                throw SmartSyncError(
                    error.code, "the pack for \(what) from \(repositoryURL) was rejected: \(error.message)",
                    hint: error.hint, cause: error)
            }
        case .failure(let error):
            throw error
        }
        if let transferError {
            if size > 0 {
                let broke = (transferError as? SmartSyncError)?.code == .network
                // A held pack's objects (a history walk's) are dropped with their batch: none was kept.
                let kept = holding == nil ? "; the objects asked for that arrived whole were kept" : ""
                notice("the pack for \(what) \(broke ? "broke off" : "was stopped") after \(size) bytes" + kept)
            }
            throw transferError
        }
        return size
    }

    /// Imports the spools of runs that were killed mid-pack (nobody holds their lock), held to the limits their runs
    /// wrote beside them, then removes them: the objects that arrived whole (and were asked for) are kept, so this
    /// run asks only for the rest. A spool without its limits is removed unread. A spool held for a commit's checks
    /// (`held-pack-…`, ``receivePack(_:what:budget:holding:drawingFrom:)``: the listing's pack asked ahead, the
    /// ancestry walk's history and the commit alone, `tree:0` commits) is removed unread: its commit was never
    /// checked. Told by the name, not the limits: a history's limits are also those of a listing's or a commit's pack
    /// on a host without shallow support, which are salvaged (removing those unread made a killed run's download
    /// start over). A history's spool is commits only, a few hundred bytes each: the next run asks for it again at
    /// little cost.
    func salvageSpools() async {
        guard let names = try? FileSystem.names(in: store.temporaryDirectory) else { return }
        let present = Set(names)
        for name in names where name.hasPrefix(Self.spoolPrefix) || name.hasPrefix(Self.heldSpoolPrefix) {
            let path = store.temporaryDirectory + "/" + name
            if name.hasSuffix(".limits") {
                // Limits whose spool is gone (a run killed between its last unlinks).
                let stem = name.dropLast(".limits".count)
                if !present.contains(stem + ".pack") && !present.contains(stem + ".locking") { unlink(path) }
                continue
            }
            guard name.hasSuffix(".pack") else { continue }
            let base = String(path.dropLast(".pack".count))
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { closeDescriptor(fd) }
            // Held by a live run (this one's or another's, in any PID namespace): not ours to take.
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            if name.hasPrefix(Self.heldSpoolPrefix) {
                logger.debug(
                    "removed unread the pack a killed run held for a commit's checks", metadata: ["spool": "\(name)"])
            } else if let bytes = try? FileSystem.readFile(base + ".limits"),
                let limits = SpoolLimits.decode(bytes, path: base + ".limits"),
                let report = try? await Self.startImport(
                    path, into: store, arrival: nil, limits: limits, budget: storeBudget
                ).value
            {
                state.withLock { $0.stats.packObjects += report.objects }
                logger.debug(
                    "salvaged \(report.objects) objects from the pack spool of a killed run",
                    metadata: ["spool": "\(name)"])
            }
            // A killed run's pack is cut short: the importer throws after keeping the whole objects.
            unlink(base + ".limits")
            unlink(path)
        }
    }

    /// The name of a spool a killed run's successor imports (``salvageSpools()``); gc tells spools in the store's
    /// `tmp/` by it.
    public static let spoolPrefix = "pack-"
    /// The name of a spool held for a commit's checks, removed unread by a killed run's successor; gc tells spools
    /// in the store's `tmp/` by it.
    public static let heldSpoolPrefix = "held-pack-"

    /// Writes the limits a spool is held to. Not synced: they matter only to a later run salvaging the spool, and one
    /// that finds them cut short (a crash) removes the spool unread.
    private func writeLimits(_ limits: PackLimits, to path: String) throws {
        let bytes = try SpoolLimits(limits: limits).encodedRecord()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        defer { closeDescriptor(fd) }
        try bytes.withUnsafeBytes { try FileSystem.writeAll(fd: fd, $0, path: path) }
    }

    /// Starts importing the pack at `path` on a thread of its own (while it is still arriving, with `arrival`):
    /// inflating, delta resolution and hashing are CPU work that would hold up the async pool.
    /// With `holding`, the objects are left unpublished in that batch
    /// (``PackImporter/importPack(atPath:arrival:limits:budget:holding:)``).
    static func startImport(
        _ path: String, into store: ObjectStore, arrival: PackArrival?, limits: PackLimits, budget: ByteBudget?,
        holding: ObjectBatch? = nil
    ) -> Task<PackImportReport, any Error> {
        Task {
            try await DedicatedThread.run(name: "ss-pack-import") {
                try PackImporter(store: store).importPack(
                    atPath: path, arrival: arrival, limits: limits, budget: budget, holding: holding)
            }
        }
    }
}

extension GitPackSource {
    /// The limits a spool is held to, beside it as `pack-….limits`: a ``JSONRecord`` (format
    /// `smart-sync-spool-limits`). smart-sync 0.1.0 wrote the bare `PackLimits` JSON; a killed run of that release
    /// left such a file beside its spool, and it is read the same.
    struct SpoolLimits: JSONRecord {
        static let format = "smart-sync-spool-limits"
        static let version = 1
        var limits: PackLimits

        /// The limits in `bytes` (either format); nil when they are damaged, cut short or of a newer release.
        static func decode(_ bytes: [UInt8], path: String) -> PackLimits? {
            do {
                if let loaded = try decodeRecord(bytes, path: path) { return loaded.record.limits }
            } catch {
                return nil
            }
            return try? JSONDecoder().decode(PackLimits.self, from: Data(bytes))
        }
    }
}

/// `close(2)`, out of reach of ``GitPackSource/close()``.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
