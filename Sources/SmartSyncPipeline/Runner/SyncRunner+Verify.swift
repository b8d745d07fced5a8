import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

extension SyncRunner {
    /// Re-hashes `target` against its last sync (see ``TargetVerifier``); with `repair`, discards damaged
    /// store objects and syncs the target back to that commit (fetching what is gone, keeping every local
    /// version in the store first).
    ///
    /// - Returns: the findings, and the repair's outcome when one ran.
    public func verify(target: String, repair: Bool) async throws -> (TargetVerifier.Report, Outcome?) {
        let (report, state) = try Self.verifyOnly(target: target, store: store, state: self.state)
        guard repair, !report.isIntact else { return (report, nil) }
        do {
            // Under the store's lock, shared, as every change to the store outside gc.
            let storeLock = try await lockStore()
            defer { storeLock.release() }
            try TargetVerifier().discard(report.corruptObjects, from: store)
        }
        // Forget cached hashes: paths edited through a hardlink may still match their old stat data.
        try self.state.resetStatCache(target: state.target)
        let outcome = try await sync(Request(ref: state.commit.hex, target: state.target))
        let (after, _) = try Self.verifyOnly(target: target, store: store, state: self.state)
        guard after.isIntact else {
            let paths = after.findings.prefix(5).map { "'\($0.path)'" }.joined(separator: ", ")
            throw SmartSyncError(
                .io,
                "the repair of \(state.target) left \(after.findings.count) path(s) differing (\(paths)) and "
                    + "\(after.corruptObjects.count) damaged object(s)",
                hint: "check for processes writing there and run verify again"
            )
        }
        return (report, outcome)
    }

    /// ``TargetVerifier/verify(target:manifest:store:)`` on a target's last sync, under the target lock; needs
    /// no source.
    public static func verifyOnly(target: String, store: ObjectStore, state: StateStore) throws
        -> (TargetVerifier.Report, TargetState)
    {
        let target = StateStore.normalize(target)
        let lock = try state.lock(target: target)
        defer { lock.release() }
        guard let last = try state.load(target: target) else {
            throw SmartSyncError(
                .notFound,
                "'\(target)' has no sync state in \(state.root)",
                hint: "run `smart-sync sync` for it first (or pass the --state-dir it used)"
            )
        }
        return (try TargetVerifier().verify(target: target, manifest: last.manifest, store: store), last)
    }
}
