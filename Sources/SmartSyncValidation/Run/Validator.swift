import SmartSyncCore

/// Runs a list of checks, optionally fixing what they find, and reports each as it completes.
public struct Validator: Sendable {
    public var checks: [any Check]

    public init(checks: [any Check]) {
        self.checks = checks
    }

    /// Runs every check in order.
    ///
    /// - Parameters:
    ///   - fix: repair what a check reports as fixable, then run the check again.
    ///   - onReport: called with each check's report as soon as it is known (for streaming output).
    /// - Returns: the reports, in check order.
    @discardableResult
    public func run(
        _ context: ValidationContext, fix: Bool = false, onReport: (CheckReport) -> Void = { _ in }
    ) -> [CheckReport] {
        var reports: [CheckReport] = []
        for check in checks {
            let report = Self.run(check, context, fix: fix)
            onReport(report)
            reports.append(report)
        }
        return reports
    }

    /// Runs one check (and its fix).
    public static func run(_ check: any Check, _ context: ValidationContext, fix: Bool) -> CheckReport {
        var report = CheckReport(
            id: check.id, kind: check.kind, title: check.title, result: .pass(""), before: nil, fix: nil)
        if check.isSlow && context.quick {
            report.result = CheckResult(.skip, "skipped by --quick")
            return report
        }
        let first = evaluate(check, context)
        report.result = first
        guard fix, first.status == .fail || first.status == .warn, first.fixable else { return report }
        let outcome: FixOutcome
        do {
            outcome = try check.fix(context)
        } catch let error as SmartSyncError {
            outcome = .failed(error.text)
        } catch {
            outcome = .failed("\(error)")
        }
        report.before = first
        report.fix = outcome
        report.result = evaluate(check, context)
        return report
    }

    private static func evaluate(_ check: any Check, _ context: ValidationContext) -> CheckResult {
        var result: CheckResult
        do {
            result = try check.run(context)
        } catch let error as SmartSyncError {
            result = .fail(error.text)
        } catch {
            result = .fail("\(error)")
        }
        if let severity = check.common.severity, result.status == .fail || result.status == .warn {
            result.status = severity.status
        }
        return result
    }
}
