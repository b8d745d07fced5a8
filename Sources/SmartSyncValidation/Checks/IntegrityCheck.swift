import SmartSyncGitObjects
import SmartSyncPipeline

/// `kind = "integrity"`: the target's files are what the last sync put there (``TargetVerifier``: every manifest
/// path re-hashed, and the store objects they link). Slow: skipped by `--quick`.
///
/// Fix: changed or missing files whose store object is intact are restored by linking it again (no network);
/// damaged store objects need `smart-sync verify OWNER/REPO --repair`, which fetches them.
public struct IntegrityCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .integrity }
    public var isSlow: Bool { true }

    public init(common: CheckCommon? = nil) {
        self.common = common ?? CheckCommon(id: "integrity", title: "files match the last sync")
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        guard let store = context.store, let state = context.state,
            try state.load(target: context.target) != nil
        else {
            return .warn(
                "no sync recorded for \(context.target)\(context.state.map { " in \($0.root)" } ?? ""); nothing to "
                    + "compare (pass --state-dir/--store if the sync used others)"
            )
        }
        let (report, _) = try SyncRunner.verifyOnly(target: context.target, store: store, state: state)
        if report.isIntact { return .pass("\(report.checked) files match the last sync's manifest") }
        let restorer = try StoreRestorer(context)
        let restorable = report.findings.filter { restorer?.canRestore($0.path) == true }.map(\.path)
        var details = report.findings.map { "\($0.kind.rawValue) \($0.path)" }
        details += report.corruptObjects.map { "corrupt store object \($0.hex)" }
        var message = "\(report.findings.count) of \(report.checked) files differ from the last sync"
        if !report.findings.isEmpty {
            message += " (\(ExecutableCheck.list(report.findings.map(\.path.description), limit: 3)))"
        }
        if !report.corruptObjects.isEmpty {
            message +=
                "; \(report.corruptObjects.count) store object(s) damaged: run `smart-sync verify OWNER/REPO --repair`"
        }
        if !restorable.isEmpty { message += "; --fix restores \(restorable.count) from the store" }
        return .fail(message, fixable: !restorable.isEmpty, details: details)
    }

    public func fix(_ context: ValidationContext) throws -> FixOutcome {
        guard let restorer = try StoreRestorer(context) else { return .failed("the target has no sync state") }
        return try restorer.locked {
            let report = try TargetVerifier().verify(
                target: context.target, manifest: restorer.last.manifest, store: restorer.store)
            let paths = report.findings.map(\.path).filter { restorer.canRestore($0) }
            var outcome = FixOutcome(actions: try paths.map { try restorer.restore($0) })
            if !report.corruptObjects.isEmpty {
                outcome.failure =
                    "\(report.corruptObjects.count) store object(s) are damaged; run "
                        + "`smart-sync verify OWNER/REPO --repair`"
            }
            return outcome
        }
    }
}
