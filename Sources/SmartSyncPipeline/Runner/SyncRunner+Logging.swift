import Logging
import SmartSyncFetch

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
