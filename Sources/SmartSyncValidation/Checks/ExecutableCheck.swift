import Glibc
import SmartSyncGitObjects
import SmartSyncPipeline

/// `kind = "executable"`: every regular file matching a glob is executable by its owner.
/// Fix: `chmod +x` (adding `x` wherever `r` is set), on a private copy when the file is a hardlink.
public struct ExecutableCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .executable }
    /// Relative to the target (`scripts/*.sh`).
    public var glob: String

    public init(glob: String, common: CheckCommon? = nil) {
        self.glob = glob
        self.common = common ?? CheckCommon(id: "executable:\(glob)", title: "\(glob) executable")
    }

    /// Matching regular files that lack the owner's exec bit. Symlinks are not followed: a link matching the glob is
    /// neither checked nor changed (its target is, when it matches itself).
    private func offenders(_ context: ValidationContext) throws -> (matched: Int, offenders: [TreePath]) {
        var matched = 0
        var out: [TreePath] = []
        for (path, st) in try TargetGlob(pattern: glob).expand(in: context.target) where FileInfo.isRegular(st) {
            matched += 1
            if st.st_mode & 0o100 == 0 { out.append(path) }
        }
        return (matched, out)
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        let (matched, bad) = try offenders(context)
        if matched == 0 { return .pass("no files match \(glob)") }
        if bad.isEmpty { return .pass("\(matched) file\(matched == 1 ? "" : "s") matching \(glob) executable") }
        return .fail(
            "\(bad.count) of \(matched) files matching \(glob) not executable: "
                + "\(Self.list(bad.map(\.description))); --fix runs chmod +x",
            fixable: true, details: bad.map(\.description))
    }

    public func fix(_ context: ValidationContext) throws -> FixOutcome {
        var actions: [String] = []
        let reader = try TreeReader(root: context.target)
        let editor = TreeEditor(root: context.target)
        for path in try offenders(context).offenders {
            guard let st = try reader.status(path), FileInfo.isRegular(st) else { continue }
            let mode = (st.st_mode & 0o7777) | ((st.st_mode & 0o444) >> 2) | 0o100
            actions.append(try editor.setPermissions(path, mode))
        }
        return FixOutcome(actions: actions)
    }

    /// The first few paths, comma-separated.
    static func list(_ paths: [String], limit: Int = 5) -> String {
        let shown = paths.prefix(limit).joined(separator: ", ")
        return paths.count > limit ? shown + ", and \(paths.count - limit) more" : shown
    }
}
