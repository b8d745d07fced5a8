/// The kinds of check a config file may name with `kind = "..."`.
public enum CheckKind: String, Sendable, Codable, CaseIterable {
    case directory
    case file
    case flake
    case executable
    case userConfig = "user-config"
    case systemConfig = "system-config"
    case nixFeatures = "nix-features"
    case kvm
    case network
    case tool
    case integrity
    case ownership
    case diskSpace = "disk-space"
}

/// What every check has, whatever its kind: its id, title and severity override.
public struct CheckCommon: Sendable, Equatable {
    /// Unique within a run: the config's `id`, else derived from the kind and its main key (`directory:modules`).
    public var id: String
    /// A short description for the report.
    public var title: String
    /// The config's `severity`: when set, any problem the check finds is reported at this level.
    public var severity: Severity?

    public init(id: String, title: String, severity: Severity? = nil) {
        self.id = id
        self.title = title
        self.severity = severity
    }
}

/// One declarative check of a target and its host.
///
/// ``run(_:)`` only looks; ``fix(_:)`` repairs what ``run(_:)`` reported as `fixable` and says what it did. Both
/// resolve every path through the ``ValidationContext`` (relative paths under the target, absolute paths under
/// the host root), so a test can point a check at a fixture tree.
public protocol Check: Sendable {
    var kind: CheckKind { get }
    var common: CheckCommon { get }
    /// Slow checks (re-hashing the whole target) are skipped by `--quick`.
    var isSlow: Bool { get }
    /// Looks; a thrown error is reported as a failure with its message.
    func run(_ context: ValidationContext) throws -> CheckResult
    /// Repairs what ``run(_:)`` found fixable.
    func fix(_ context: ValidationContext) throws -> FixOutcome
}

extension Check {
    public var id: String { common.id }
    public var title: String { common.title }
    public var isSlow: Bool { false }

    public func fix(_ context: ValidationContext) throws -> FixOutcome {
        .failed("\(kind.rawValue) checks cannot be fixed automatically")
    }
}
