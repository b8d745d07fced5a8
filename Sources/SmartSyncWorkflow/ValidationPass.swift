import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncValidation

/// The checks of an update and where they look: the same config as `smart-sync validate`.
public struct UpdateChecks: Sendable {
    public var checks: [any Check]
    /// The host root (`--root`): absolute check paths are resolved under it.
    public var root: String
    public var defaults: ValidationDefaults
    /// The tools' search path.
    public var searchPath: [String]?

    public init(
        checks: [any Check], root: String = "/", defaults: ValidationDefaults = ValidationDefaults(),
        searchPath: [String]? = nil
    ) {
        self.checks = checks
        self.root = root
        self.defaults = defaults
        self.searchPath = searchPath
    }
}

/// One validation step's outcome.
struct ValidationPass: Sendable {
    var reports: [CheckReport]
    /// Failing checks that count: those that did not already fail before the update.
    var newFailures: [CheckReport]
    /// Failing checks that also failed before the update (tolerated: `--force` went past them).
    var knownFailures: [CheckReport]

    var warned: Int { reports.filter { $0.result.status == .warn }.count }

    /// Runs `checks` on `directory` and sorts failures against `baseline` (check ids that failed before).
    static func run(
        _ checks: UpdateChecks, directory: String, store: ObjectStore?, state: StateStore?, quick: Bool,
        excluding kinds: Set<CheckKind> = [], baseline: Set<String>, onReport: (CheckReport) -> Void
    ) -> ValidationPass {
        let context = ValidationContext(
            target: directory, root: checks.root, searchPath: checks.searchPath, store: store, state: state,
            quick: quick, defaults: checks.defaults)
        let validator = Validator(checks: checks.checks.filter { !kinds.contains($0.kind) })
        let reports = validator.run(context, fix: false, onReport: onReport)
        let failed = reports.filter { $0.result.status == .fail }
        return ValidationPass(
            reports: reports, newFailures: failed.filter { !baseline.contains($0.id) },
            knownFailures: failed.filter { baseline.contains($0.id) })
    }

    /// The step's record: ok, warn (warnings or tolerated failures) or failed.
    func record(_ step: UpdateStep, seconds: Double) -> StepRecord {
        let summary = ValidationSummary(reports)
        var message = "\(summary.passed) passed, \(summary.warned) warning\(summary.warned == 1 ? "" : "s"), "
        message += "\(summary.failed) failed"
        if summary.skipped > 0 { message += ", \(summary.skipped) skipped" }
        if !knownFailures.isEmpty { message += " (\(knownFailures.count) failing before the update, tolerated)" }
        let status: StepStatus =
            !newFailures.isEmpty ? .failed : (summary.warned > 0 || !knownFailures.isEmpty) ? .warn : .ok
        return StepRecord(step: step, status: status, seconds: seconds, message: message)
    }

    /// "flake (flake.nix: unbalanced braces); file:scripts/x.sh (missing)", at most five.
    var failureList: String {
        let list = newFailures.prefix(5).map { "\($0.id) (\($0.result.message))" }.joined(separator: "; ")
        return newFailures.count > 5 ? list + "; …" : list
    }
}
