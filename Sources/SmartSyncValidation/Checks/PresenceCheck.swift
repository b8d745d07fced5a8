/// `kind = "user-config"`, `"system-config"` and `"network"`: configuration files or directories are present.
///
/// Every path in `paths` must exist; of `any`, at least one. With `contains`, at least one present file (of
/// either list) must contain that text (e.g. `users.users` for the user configuration). Fix: restore missing
/// paths from the store when the last sync put them there.
import SmartSyncGitObjects

public struct PresenceCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind
    public var paths: [String]
    public var any: [String]
    public var contains: String?

    public init(
        kind: CheckKind, paths: [String] = [], any: [String] = [], contains: String? = nil,
        common: CheckCommon? = nil
    ) {
        precondition(kind == .userConfig || kind == .systemConfig || kind == .network)
        self.kind = kind
        self.paths = paths
        self.any = any
        self.contains = contains
        self.common = common ?? CheckCommon(id: kind.rawValue, title: Self.defaultTitle(kind))
    }

    static func defaultTitle(_ kind: CheckKind) -> String {
        switch kind {
        case .userConfig: return "user configuration"
        case .systemConfig: return "system configuration"
        default: return "network configuration"
        }
    }

    private var what: String { Self.defaultTitle(kind) }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        let missing = paths.filter { FileInfo.following(context.resolve($0)) == nil }
        let presentAny = any.filter { FileInfo.following(context.resolve($0)) != nil }
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing \(missing.joined(separator: ", "))") }
        if !any.isEmpty && presentAny.isEmpty { problems.append("none of \(any.joined(separator: ", ")) exists") }
        if !problems.isEmpty {
            let restorable = try restorablePaths(context)
            let hint = restorable.isEmpty ? "" : "; --fix restores \(restorable.joined(separator: ", ")) from the store"
            return .fail("\(what): " + problems.joined(separator: "; ") + hint, fixable: !restorable.isEmpty)
        }
        let present = paths + presentAny
        if let contains {
            let files = try present.flatMap { p -> [String] in
                let full = context.resolve(p)
                guard let st = FileInfo.following(full) else { return [] }
                if FileInfo.isRegular(st) { return [full] }
                guard FileInfo.isDirectory(st) else { return [] }
                return try TargetGlob(pattern: "**.nix").expand(in: full).filter { FileInfo.isRegular($0.stat) }
                    .compactMap { $0.path.string.map { full + "/" + $0 } }
            }
            let found = try files.contains { (try FileInfo.readText($0))?.contains(contains) ?? false }
            guard found else {
                return .fail("\(what): none of \(present.joined(separator: ", ")) mentions '\(contains)'")
            }
        }
        return .pass("\(what) present: \(present.joined(separator: ", "))")
    }

    /// Missing paths the last sync put there, with intact store objects.
    private func restorablePaths(_ context: ValidationContext) throws -> [String] {
        guard let restorer = try StoreRestorer(context) else { return [] }
        let candidates = paths + (any.contains { FileInfo.following(context.resolve($0)) != nil } ? [] : any)
        return candidates.filter { p in
            FileInfo.following(context.resolve(p)) == nil && restorer.relative(p).map(restorer.canRestore) == true
        }
    }

    public func fix(_ context: ValidationContext) throws -> FixOutcome {
        guard let restorer = try StoreRestorer(context) else { return .failed("the target has no sync state") }
        let targets = try restorablePaths(context)
        let actions = try restorer.locked { try targets.compactMap { try restorer.relative($0).map(restorer.restore) } }
        return FixOutcome(actions: actions)
    }
}
