/// The outcome of one check.
public enum CheckStatus: String, Sendable, Codable, CaseIterable {
    case pass, warn, fail
    /// Not run (`--quick` skips slow checks).
    case skip
}

/// How bad a problem is when a check finds one: the per-check `severity` override of the config.
public enum Severity: String, Sendable, Codable, CaseIterable {
    case warn, fail

    var status: CheckStatus { self == .warn ? .warn : .fail }
}

/// What a check found.
public struct CheckResult: Sendable, Equatable {
    public var status: CheckStatus
    /// One line for the operator: what was found, and what to do when it is a problem.
    public var message: String
    /// True when ``Check/fix(_:)`` can repair what was found.
    public var fixable: Bool
    /// Further lines (e.g. the paths concerned), at most a few dozen.
    public var details: [String]

    public init(_ status: CheckStatus, _ message: String, fixable: Bool = false, details: [String] = []) {
        self.status = status
        self.message = message
        self.fixable = fixable
        self.details = details
    }

    public static func pass(_ message: String) -> CheckResult { CheckResult(.pass, message) }

    public static func fail(_ message: String, fixable: Bool = false, details: [String] = []) -> CheckResult {
        CheckResult(.fail, message, fixable: fixable, details: details)
    }

    public static func warn(_ message: String, fixable: Bool = false, details: [String] = []) -> CheckResult {
        CheckResult(.warn, message, fixable: fixable, details: details)
    }
}

/// What ``Check/fix(_:)`` did.
public struct FixOutcome: Sendable, Equatable {
    /// One line per change made ("created /etc/hypervisor/modules (mode 0755)").
    public var actions: [String]
    /// Why the repair stopped short, when it did.
    public var failure: String?

    public init(actions: [String] = [], failure: String? = nil) {
        self.actions = actions
        self.failure = failure
    }

    public static func failed(_ reason: String, after actions: [String] = []) -> FixOutcome {
        FixOutcome(actions: actions, failure: reason)
    }
}

/// One check's line in the report.
public struct CheckReport: Sendable, Equatable {
    public var id: String
    public var kind: CheckKind
    public var title: String
    /// The final result (after the fix, when one ran).
    public var result: CheckResult
    /// What the check found before the fix, when a fix ran.
    public var before: CheckResult?
    /// The fix, when one ran.
    public var fix: FixOutcome?
}

/// Counts over a run, and the exit code they mean.
public struct ValidationSummary: Sendable, Equatable {
    public var passed = 0
    public var warned = 0
    public var failed = 0
    public var skipped = 0
    /// Checks that a fix turned from a problem into a pass (or a warning).
    public var fixed = 0

    public init(_ reports: [CheckReport]) {
        for r in reports {
            switch r.result.status {
            case .pass: passed += 1
            case .warn: warned += 1
            case .fail: failed += 1
            case .skip: skipped += 1
            }
            if let before = r.before, before.status == .fail || before.status == .warn,
                r.result.status.rank < before.status.rank
            {
                fixed += 1
            }
        }
    }

    /// `validate`'s exit code: 0 when every check passed (or was skipped), 1 on any failure, 2 on warnings only.
    public var exitCode: Int32 { failed > 0 ? 1 : warned > 0 ? 2 : 0 }
}

extension CheckStatus {
    /// pass/skip 0, warn 1, fail 2.
    var rank: Int {
        switch self {
        case .pass, .skip: return 0
        case .warn: return 1
        case .fail: return 2
        }
    }
}
