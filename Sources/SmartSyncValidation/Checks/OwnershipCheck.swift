import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncPipeline

/// `kind = "ownership"`: everything under a directory (the target by default; `glob` narrows it) is owned by
/// `owner`:`group` and, unless `writable_ok = true`, is neither group- nor world-writable. Symlinks are checked
/// for ownership only. Fix: `lchown`, and `chmod go-w` (on a private copy when the file is a hardlink).
public struct OwnershipCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .ownership }
    /// The directory walked: relative to the target, or absolute under the root.
    public var path: String
    public var glob: String?
    /// nil: the config's `[defaults]`.
    public var owner: String?
    public var group: String?
    public var allowWritable: Bool

    public init(
        path: String = ".", glob: String? = nil, owner: String? = nil, group: String? = nil,
        allowWritable: Bool = false, common: CheckCommon? = nil
    ) {
        self.path = path
        self.glob = glob
        self.owner = owner
        self.group = group
        self.allowWritable = allowWritable
        self.common =
            common ?? CheckCommon(id: "ownership" + (path == "." ? "" : ":\(path)"), title: "ownership and permissions")
    }

    private struct Offender {
        /// Relative to the checked path (for messages and the glob).
        var rel: String
        /// Relative to the editor's root (for the fix, by descriptor).
        var path: TreePath
        var full: String
        var problems: [String]
        var wrongOwner: Bool
        var wrongGroup: Bool
        var writable: Bool
    }

    private func ids(_ context: ValidationContext) throws -> (uid_t, gid_t, String, String) {
        let owner = self.owner ?? context.defaults.owner
        let group = self.group ?? context.defaults.group
        guard let uid = FileInfo.uid(owner) else {
            throw SmartSyncError(.invalidArgument, "owner '\(owner)' is not a known user or uid on this host")
        }
        guard let gid = FileInfo.gid(group) else {
            throw SmartSyncError(.invalidArgument, "group '\(group)' is not a known group or gid on this host")
        }
        return (uid, gid, owner, group)
    }

    private func offenders(_ context: ValidationContext) throws -> (checked: Int, [Offender]) {
        let (uid, gid, owner, group) = try ids(context)
        let base = context.resolve(path)
        let (editor, start) = context.editor(for: base)
        let matcher = glob.map { TargetGlob(pattern: $0) }
        var checked = 0
        var out: [Offender] = []
        func inspect(_ rel: TreePath, _ path: TreePath, _ st: stat) {
            if let matcher, !rel.isEmpty, !matcher.matches(rel) { return }
            checked += 1
            var o = Offender(
                rel: rel.isEmpty ? "." : rel.description, path: path, full: editor.display(path), problems: [],
                wrongOwner: false, wrongGroup: false, writable: false)
            if st.st_uid != uid {
                o.wrongOwner = true
                o.problems.append("owner \(st.st_uid), expected \(owner)")
            }
            if st.st_gid != gid {
                o.wrongGroup = true
                o.problems.append("group \(st.st_gid), expected \(group)")
            }
            if !allowWritable && st.st_mode & S_IFMT != S_IFLNK && st.st_mode & 0o022 != 0 {
                o.writable = true
                o.problems.append("mode \(FileInfo.octal(st.st_mode)) is group/world-writable")
            }
            if !o.problems.isEmpty { out.append(o) }
        }
        guard let top = try TreeReader(root: editor.root).status(start) else { return (0, []) }
        inspect(.root, start, top)
        if FileInfo.isDirectory(top) {
            let prefix = start.bytes.count + (start.isEmpty ? 0 : 1)
            try editor.walk(under: start) { path, st in
                inspect(TreePath(bytes: path.bytes.dropFirst(prefix)), path, st)
                return true
            }
        }
        return (checked, out)
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        let (checked, bad) = try offenders(context)
        guard !bad.isEmpty else {
            let (_, _, owner, group) = try ids(context)
            return .pass(
                "\(checked) entries owned by \(owner):\(group)\(allowWritable ? "" : ", none group/world-writable")")
        }
        let details = bad.map { "\($0.rel): \($0.problems.joined(separator: ", "))" }
        return .fail(
            "\(bad.count) of \(checked) entries with wrong ownership or permissions: "
                + "\(ExecutableCheck.list(details, limit: 3)); --fix repairs them",
            fixable: true, details: details)
    }

    public func fix(_ context: ValidationContext) throws -> FixOutcome {
        let (uid, gid, owner, group) = try ids(context)
        var actions: [String] = []
        let editor = context.editor(for: context.resolve(path)).editor
        let reader = try TreeReader(root: editor.root)
        for o in try offenders(context).1 {
            if o.wrongOwner || o.wrongGroup {
                try editor.setOwner(o.path, uid: o.wrongOwner ? uid : nil, gid: o.wrongGroup ? gid : nil)
                actions.append("chown \(o.wrongOwner ? owner : ""):\(o.wrongGroup ? group : "") \(o.full)")
            }
            if o.writable, let st = try reader.status(o.path) {
                actions.append(try editor.setPermissions(o.path, st.st_mode & 0o7777 & ~0o022))
            }
        }
        return FixOutcome(actions: actions)
    }
}
