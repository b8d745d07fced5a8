import Glibc
import SmartSyncPipeline

/// `kind = "file"`: a regular file is present, optionally with a mode, owner and group.
/// Fix: restore it from the store (when the last sync put it there), `chmod`, `chown`.
public struct FileCheck: Check {
    public var common: CheckCommon
    public var kind: CheckKind { .file }
    public var path: String
    public var mode: mode_t?
    public var owner: String?
    public var group: String?

    public init(
        path: String, mode: mode_t? = nil, owner: String? = nil, group: String? = nil, common: CheckCommon? = nil
    ) {
        self.path = path
        self.mode = mode
        self.owner = owner
        self.group = group
        self.common = common ?? CheckCommon(id: "file:\(path)", title: "file \(path)")
    }

    public func run(_ context: ValidationContext) throws -> CheckResult {
        let full = context.resolve(path)
        guard let st = FileInfo.following(full) else {
            if let restorer = try StoreRestorer(context), let rel = restorer.relative(path), restorer.canRestore(rel) {
                return .fail("\(path) is missing; --fix restores it from the store", fixable: true)
            }
            return .fail("\(path) is missing; sync the target again or create it")
        }
        guard FileInfo.isRegular(st) else {
            return .fail("\(path) is \(FileInfo.typeName(st)), not a regular file")
        }
        var problems: [String] = []
        if let mode, st.st_mode & 0o7777 != mode {
            problems.append("mode \(FileInfo.octal(st.st_mode)), expected \(FileInfo.octal(mode))")
        }
        if let owner {
            guard let uid = FileInfo.uid(owner) else { return .fail("owner '\(owner)' is not a known user or uid") }
            if st.st_uid != uid { problems.append("owner uid \(st.st_uid), expected \(owner) (\(uid))") }
        }
        if let group {
            guard let gid = FileInfo.gid(group) else { return .fail("group '\(group)' is not a known group or gid") }
            if st.st_gid != gid { problems.append("group gid \(st.st_gid), expected \(group) (\(gid))") }
        }
        if !problems.isEmpty {
            return .fail("\(path): " + problems.joined(separator: "; ") + "; --fix sets it", fixable: true)
        }
        return .pass("\(path) present")
    }

    public func fix(_ context: ValidationContext) throws -> FixOutcome {
        let full = context.resolve(path)
        var actions: [String] = []
        if FileInfo.following(full) == nil {
            guard let restorer = try StoreRestorer(context), let rel = restorer.relative(path) else {
                return .failed("\(path) is not in the last sync's manifest")
            }
            actions.append(try restorer.locked { try restorer.restore(rel) })
        }
        guard let st = FileInfo.following(full) else { return .failed("\(full) is still missing", after: actions) }
        let (editor, relative) = context.editor(for: full)
        if let owner, let uid = FileInfo.uid(owner), st.st_uid != uid {
            try editor.setOwner(relative, uid: uid, gid: nil)
            actions.append("chown \(owner) \(full)")
        }
        if let group, let gid = FileInfo.gid(group), st.st_gid != gid {
            try editor.setOwner(relative, uid: nil, gid: gid)
            actions.append("chgrp \(group) \(full)")
        }
        if let mode, st.st_mode & 0o7777 != mode { actions.append(try FileInfo.setMode(full, mode, in: context)) }
        return FixOutcome(actions: actions)
    }
}
