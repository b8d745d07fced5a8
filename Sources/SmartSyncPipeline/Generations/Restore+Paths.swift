import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

extension Restore {
    /// The path `given` relative to `target`: `given` is relative to the target, or absolute inside it (the
    /// target as given or as `realpath` resolves it), written as smart-sync prints paths (bytes that are not UTF-8
    /// as `\xNN`, a backslash as `\\`). `.` components are dropped.
    ///
    /// - Throws: `.unsafePath` for `..` components, NUL bytes, malformed escapes, or a path outside the target.
    public static func relativePath(_ given: String, target: String) throws -> TreePath {
        let target = StateStore.normalize(target)
        guard !given.isEmpty, let path = TreePath(escaped: given), !path.bytes.contains(0) else {
            throw SmartSyncError(
                .unsafePath, "'\(given)' is not a usable path",
                hint: "name a file inside \(target); write bytes that are not UTF-8 as \\xNN and a backslash as "
                    + "\\\\, as smart-sync prints them")
        }
        let dot = TreePath(".")
        let parts = path.bytes.split(separator: 0x2F, omittingEmptySubsequences: true).map { TreePath(bytes: $0) }
            .filter { $0 != dot }
        if parts.contains(TreePath("..")) {
            throw SmartSyncError(
                .unsafePath,
                "'\(given)' contains '..'; restore only writes inside \(target)",
                hint: "name the file relative to the target (e.g. modules/x.nix) or by its absolute path inside it"
            )
        }
        var relative = parts
        if path.bytes.first == 0x2F {
            let roots = [target, realPath(target)].compactMap { $0 }.map {
                TreePath($0).components.filter { !$0.isEmpty }
            }
            guard let root = roots.first(where: { parts.count > $0.count && Array(parts.prefix($0.count)) == $0 })
            else {
                throw SmartSyncError(
                    .unsafePath,
                    "'\(given)' is not inside the target \(target); restore only writes there",
                    hint: "name a file inside it, or pass the right --target"
                )
            }
            relative = Array(parts.dropFirst(root.count))
        }
        guard let first = relative.first else {
            throw SmartSyncError(.invalidArgument, "'\(given)' is the target itself", hint: "name a file inside it")
        }
        return relative.dropFirst().reduce(first) { $0.appending($1) }
    }

    /// Refuses `relative` when one of its parent directories under `root` is a symlink (or not a directory):
    /// restore never reads or writes through one. A missing parent is fine (it is created when writing).
    static func checkParents(root: String, _ relative: TreePath) throws {
        guard let cursor = try DirectoryCursor(existing: root) else { return }
        defer { cursor.finish() }
        _ = try cursor.enterParent(of: relative, create: false)
    }

    /// The mode, id and metadata of the file or symlink at `path` in `tree`, or nil when nothing is there.
    ///
    /// - Throws: `.conflict` when a directory or special file stands there.
    static func inspect(_ path: TreePath, in tree: TreeReader) throws -> (
        mode: FileMode, id: ObjectID, metadata: FileMetadata
    )? {
        guard let st = try tree.status(path) else { return nil }
        switch FileMode(blobOf: st) {
        case .symlink?:
            return (.symlink, ObjectID.blob(try tree.readLink(path)), FileMetadata(st))
        case let mode?:
            guard let id = try tree.hashFile(path)?.id else { return nil }
            return (mode, id, FileMetadata(st))
        case nil:
            throw SmartSyncError(
                .conflict,
                "'\(path)' is a directory or special file, not a file; restore handles one file at a time",
                hint: "move it away first"
            )
        }
    }

    /// Checks that the store object `id` still hashes to its id (it could have been written through a hardlink).
    static func verifyObject(_ id: ObjectID, store: ObjectStore, what: String) throws {
        guard store.contains(id) else {
            throw SmartSyncError(
                .notFound,
                "\(what) (\(id.abbreviated())) is no longer in the store at \(store.root) (was it cleaned, "
                    + "or is this the wrong --store?)",
                hint: "see `smart-sync restore PATH --list` for other versions"
            )
        }
        let found = try BlobHasher.hashFile(atPath: store.path(for: id)).id
        guard found == id else {
            throw SmartSyncError(
                .integrity,
                "the store object of \(what) hashes to \(found.abbreviated()), not \(id.abbreviated()): it "
                    + "was changed through a hardlink",
                hint: "try an older version (`--list`), and run `smart-sync verify --repair`"
            )
        }
    }

    private static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
