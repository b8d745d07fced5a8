import Logging
import SmartSyncFetch
import SmartSyncGitObjects

/// What a run logs besides its stage times (``SyncRunner/logger``, at `.debug`).
extension SyncRunner {
    /// What the scan found and how much of it the stat cache vouched for.
    func logScan(_ statistics: ScanStatistics) {
        let s = statistics
        logger.debug(
            "scan: \(s.entries) entries, \(s.cacheHits) from the stat cache, \(s.filesHashed) hashed",
            metadata: [
                "entries": "\(statistics.entries)", "cacheHits": "\(statistics.cacheHits)",
                "hashed": "\(statistics.filesHashed)", "bytesHashed": "\(statistics.bytesHashed)",
            ])
    }

    /// The plan's counts per kind and what it needs from the source.
    func logPlan(_ summary: PlanSummary) {
        let kinds = summary.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        var metadata: Logger.Metadata = [
            "toFetch": "\(summary.blobsToFetch)", "bytesToFetch": "\(summary.bytesToFetch)",
            "upToDate": "\(summary.upToDate)", "localEdits": "\(summary.localEdits.count)",
        ]
        if summary.blobsOfUnknownSize > 0 { metadata["unknownSize"] = "\(summary.blobsOfUnknownSize)" }
        logger.debug(
            "plan: \(summary.upToDate ? "up to date" : kinds); \(summary.blobsToFetch) blobs to fetch",
            metadata: metadata)
    }

    /// What the fetch brought, and the transport it took: with `--transport auto`, whether the run fell back to the
    /// per-blob path and why.
    func logFetch(_ report: FetchReport) {
        let stats = source.statistics
        var metadata: Logger.Metadata = [
            "transport": "\(source.transport)", "blobs": "\(report.blobsFetched)", "bytes": "\(report.bytesReceived)",
            "apiRequests": "\(stats.apiRequests)", "blobRequests": "\(stats.blobRequests)",
            "packRequests": "\(stats.packRequests)", "notModified": "\(stats.notModified)",
            "retries": "\(stats.retries)", "connections": "\(stats.connections)",
        ]
        if report.refetched > 0 { metadata["refetched"] = "\(report.refetched)" }
        if let reason = source.fallbackReason { metadata["fallback"] = "\(reason)" }
        let how = source.fallbackReason.map { "fell back: \($0)" } ?? "no fallback"
        logger.debug(
            "fetch: \(report.blobsFetched) blobs, \(report.bytesReceived) bytes over \(source.transport) (\(how))",
            metadata: metadata)
    }
}

extension SyncRunner {
    /// Warns of what the plan leaves undone (submodules, conflicts) and, for a plan that applies nothing, of the local
    /// edits a sync would keep.
    func warnOfPlan(_ plan: Plan, localEdits edits: [TreePath], apply: Bool) {
        // Each pass over the changes only when the plan's counts say it finds something (a no-op makes none).
        for c in plan.count(.submodule) == 0 ? [] : plan.changes where c.kind == .submodule {
            events(
                .warning(
                    "'\(c.path)' is a submodule (commit \(c.id?.abbreviated() ?? "?")); submodules are not fetched"))
        }
        for c in plan.count(.conflict) == 0 ? [] : plan.changes where c.kind == .conflict {
            events(.warning(c.note ?? "'\(c.path)' was changed locally; kept"))
        }
        if !apply {
            for path in edits.prefix(20) {
                let note = plan.changes.first { $0.path == path }?.note
                    ?? "'\(path)' was changed locally since the last sync"
                let kept = "; a sync keeps that version (smart-sync restore brings it back) and puts the commit's back"
                events(.warning(note + kept))
            }
            if edits.count > 20 {
                events(.warning("\(edits.count - 20) more paths were changed locally since the last sync"))
            }
        }
    }
}
