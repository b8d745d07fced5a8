import FoundationEssentials
import Glibc
import SmartSyncCore
import SmartSyncPipeline

/// The pending-rebuild mark (``PendingRebuild``): how a killed or failed update is finished by the next one.
extension UpdateWorkflow {
    /// Before the sync: marks the target as waiting for its rebuild and checks, so that a run killed after its switch
    /// is recognised. An earlier update's mark stays as it is: it names the last confirmed tree, still the one to
    /// return to.
    func markPendingRebuild(target: String, report: inout UpdateReport) throws {
        guard report.pendingRebuild == nil else { return }
        let mark = PendingRebuild(
            confirmed: report.commitBefore, generationBefore: try Rollback.generations(target: target).first?.sequence,
            sinceNs: Self.nowNs())
        try runner.state.savePendingRebuild(mark, target: target)
        report.markedPendingRebuild = mark
    }

    /// The sync switched nothing, but an earlier update left `mark`: the tree in the target never passed its rebuild
    /// and checks (that run was killed, or failed after its switch and could not roll back). They run now, as after
    /// a switch; a failure rolls back to the confirmed tree when a generation newer than the mark keeps it.
    func resume(_ mark: PendingRebuild, target: String, report: inout UpdateReport) throws {
        report.resumed = true
        guard report.commitAfter != mark.confirmed else { return }
        report.rollbackGeneration = try Rollback.generations(target: target).first {
            $0.sequence > (mark.generationBefore ?? 0) && $0.state?.commit == mark.confirmed
        }?.sequence
    }

    /// After the run: the mark goes when the tree passed its checks, when the target is back at the confirmed tree
    /// with nothing left to rebuild, or when this run made it and changed nothing. Otherwise it stays for the next
    /// update.
    func settlePendingRebuild(target: String, report: inout UpdateReport) {
        guard let mark = report.pendingRebuild ?? report.markedPendingRebuild else { return }
        let settled: Bool
        if report.failure == nil {
            settled = true
        } else if report.rolledBack {
            settled = report.commitAfter == mark.confirmed && report.record(.rebuildPrevious)?.status != .failed
        } else {
            settled = report.pendingRebuild == nil && !report.switched
        }
        guard settled else { return }
        do {
            try runner.state.clearPendingRebuild(target: target)
        } catch {
            let error = error as? SmartSyncError ?? SmartSyncError(.io, "\(error)")
            var message = "the update finished, but removing its pending-rebuild mark failed: \(error.text). "
            message += "The next update rebuilds and checks the target again"
            report.failure = report.failure ?? SmartSyncError(error.code, message, cause: error)
        }
    }

    static func nowNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
