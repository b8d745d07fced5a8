import Glibc
import SmartSyncGitObjects

/// A local version of a target path that smart-sync saved into the store before replacing it: an operator's
/// edit of a synced file, a file that was never ours at a tree path, or a file a `restore` replaced.
public struct KeptVersion: Sendable, Hashable, Codable {
    /// When it was saved (ns since the epoch).
    public var timeNs: Int64
    /// Its mode (regular, executable or symlink).
    public var mode: FileMode
    /// Its blob id: the store object holding its content.
    public var id: ObjectID
    /// The commit whose sync replaced it; nil when a `restore` did. For a rollback (``rollbackTo``): the commit of
    /// the generation brought back (nil: the tree found before the first sync).
    public var replacedBy: ObjectID?
    /// The generation a rollback brought back in its place; nil when a sync or a `restore` replaced it (and in records
    /// of earlier releases, which said nothing of rollbacks: they read as a sync's).
    public var rollbackTo: Int?
    /// Its path, relative to the target.
    public var path: TreePath
    /// Its permission bits and ownership when it was kept (nil in records written before release 0.2).
    public var metadata: FileMetadata?

    public init(
        timeNs: Int64, mode: FileMode, id: ObjectID, replacedBy: ObjectID?, path: TreePath,
        metadata: FileMetadata? = nil, rollbackTo: Int? = nil
    ) {
        self.timeNs = timeNs
        self.mode = mode
        self.id = id
        self.replacedBy = replacedBy
        self.rollbackTo = rollbackTo
        self.path = path
        self.metadata = metadata
    }

    /// What replaced it, for `restore --list`: "replaced by the sync to C", "replaced by the rollback to generation N
    /// (commit C)" (or "(the tree found before the first sync)"), or "replaced by a restore".
    public var replacement: String {
        if let rollbackTo {
            let tree = replacedBy.map { "commit \($0.abbreviated())" } ?? "the tree found before the first sync"
            return "replaced by the rollback to generation \(rollbackTo) (\(tree))"
        }
        return replacedBy.map { "replaced by the sync to \($0.abbreviated())" } ?? "replaced by a restore"
    }

    /// One line of the log: `<time ns> <mode> <blob> <commit or -> <perms>:<uid>:<gid> <path>`, the permissions in
    /// octal (`-` when unknown), the path percent-escaped (`%`, control bytes and spaces are written `%XX`), ending in
    /// a newline. Lines of earlier releases have no metadata field (five fields): they are read as before.
    ///
    /// A rollback's record writes its commit field `rollback:<generation>:<commit or ->`. An earlier release reads such
    /// a line as damaged and skips it (never as a wrong path or version): a kept field that old parsers accept could
    /// not say "rollback", and an extra field would have been read as part of the path.
    func line() -> String {
        let meta = metadata.map { "\(String($0.permissions, radix: 8)):\($0.owner):\($0.group)" } ?? "-"
        var by = replacedBy?.hex ?? "-"
        if let rollbackTo { by = "rollback:\(rollbackTo):" + by }
        return "\(timeNs) \(mode) \(id.hex) \(by) \(meta) \(Self.escape(path))\n"
    }

    /// Parses one line (without its newline); nil when it is damaged.
    init?(line: Substring) {
        var fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false)
        // A path never holds a raw space (it is escaped), so five fields are a record of an earlier release.
        var metadata: FileMetadata?
        if fields.count == 6 {
            let meta = fields.remove(at: 4)
            if meta != "-" {
                let parts = meta.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 3, let perms = UInt16(parts[0], radix: 8), perms <= 0o7777,
                    let uid = UInt32(parts[1]), let gid = UInt32(parts[2])
                else { return nil }
                metadata = FileMetadata(permissions: perms, owner: uid, group: gid)
            }
        }
        guard fields.count == 5, let time = Int64(fields[0]), let mode = FileMode(octal: fields[1]), mode.isBlob,
            let id = ObjectID(hex: fields[2]), let path = Self.unescape(fields[4]), !path.isEmpty
        else { return nil }
        var by = fields[3]
        var rollbackTo: Int?
        if by.hasPrefix("rollback:") {
            let parts = by.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let generation = Int(parts[1]), generation >= 0 else { return nil }
            rollbackTo = generation
            by = parts[2]
        }
        let commit: ObjectID?
        if by == "-" {
            commit = nil
        } else {
            guard let c = ObjectID(hex: by) else { return nil }
            commit = c
        }
        self.init(
            timeNs: time, mode: mode, id: id, replacedBy: commit, path: path, metadata: metadata,
            rollbackTo: rollbackTo)
    }

    /// The path's bytes with `%`, spaces, control bytes and every byte of 0x7F and above written `%XX`: the log stays
    /// ASCII, whatever the names' encoding. (Earlier releases wrote UTF-8 unescaped; it reads back the same.)
    static func escape(_ path: TreePath) -> String {
        var out: [UInt8] = []
        let hex = Array("0123456789ABCDEF".utf8)
        for b in path.bytes {
            if b <= 0x20 || b == 0x25 || b >= 0x7F {
                out += [0x25, hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unescape(_ text: Substring) -> TreePath? {
        var bytes: [UInt8] = []
        var i = text.utf8.startIndex
        let utf8 = text.utf8
        while i != utf8.endIndex {
            let b = utf8[i]
            if b == 0x25 {
                let h1 = utf8.index(after: i)
                guard h1 != utf8.endIndex else { return nil }
                let h2 = utf8.index(after: h1)
                guard h2 != utf8.endIndex,
                    let v = UInt8(String(decoding: [utf8[h1], utf8[h2]], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(v)
                i = utf8.index(after: h2)
            } else {
                bytes.append(b)
                i = utf8.index(after: i)
            }
        }
        return TreePath(bytes: bytes)
    }
}

/// The per-target log of kept versions, `<state>/targets/<key>/kept`: one line per version (see
/// ``KeptVersion``), appended with one `write` under `O_APPEND` and fsynced; a damaged line (a crash mid-write)
/// is skipped. Bounded: when it exceeds ``limit`` records it is rewritten atomically with the most recent ones.
public struct KeptVersionLog: Sendable {
    /// The log file.
    public let path: String
    /// Records kept at most.
    public var limit: Int

    public init(path: String, limit: Int = 1_000) {
        self.path = path
        self.limit = limit
    }

    /// The log of `target` in `state`.
    public init(state: StateStore, target: String) {
        self.init(path: state.directory(for: StateStore.normalize(target)) + "/kept")
    }

    /// Every readable record, oldest first.
    public func load() throws -> [KeptVersion] {
        try LineLog(path: path, limit: limit).lines().compactMap { KeptVersion(line: $0) }
    }

    /// The records of `path`, the most recent first.
    public func versions(of path: TreePath) throws -> [KeptVersion] {
        try load().filter { $0.path == path }.reversed()
    }

    /// Appends `records` (one `write`, then `fsync`); trims the log to the last ``limit`` records when it has
    /// grown past it (damaged records go then).
    public func append(_ records: [KeptVersion]) throws {
        try LineLog(path: path, limit: limit).append(records.map { String($0.line().dropLast()) }) { lines in
            lines.compactMap { KeptVersion(line: $0)?.line().dropLast() }.map(String.init)
        }
    }
}
