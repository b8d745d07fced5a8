#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import GitObjects
import ObjectStore
import SmartSyncCore

extension Restore {
    /// The path `given` relative to `target`: `given` is relative to the target, or absolute inside it (the
    /// target as given or as `realpath` resolves it). `.` components are dropped.
    ///
    /// - Throws: `.unsafePath` for `..` components, NUL bytes, or a path outside the target.
    public static func relativePath(_ given: String, target: String) throws -> String {
        let target = StateStore.normalize(target)
        guard !given.isEmpty, !given.utf8.contains(0) else {
            throw SmartSyncError(.unsafePath, "'\(given)' is not a usable path; name a file inside \(target)")
        }
        let parts = given.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        if parts.contains("..") {
            throw SmartSyncError(
                .unsafePath,
                "'\(given)' contains '..'; restore only writes inside \(target): name the file relative to it (e.g. modules/x.nix) or by its absolute path inside it"
            )
        }
        var relative = parts
        if given.hasPrefix("/") {
            let roots = [target, realPath(target)].compactMap { $0 }.map {
                $0.split(separator: "/", omittingEmptySubsequences: true)
            }
            guard let root = roots.first(where: { parts.count > $0.count && Array(parts.prefix($0.count)) == $0 })
            else {
                throw SmartSyncError(
                    .unsafePath,
                    "'\(given)' is not inside the target \(target); restore only writes there. Name a file inside it, or pass the right --target"
                )
            }
            relative = Array(parts.dropFirst(root.count))
        }
        guard !relative.isEmpty else {
            throw SmartSyncError(.invalidArgument, "'\(given)' is the target itself; name a file inside it")
        }
        return relative.joined(separator: "/")
    }

    /// Refuses `relative` when one of its parent directories under `root` is a symlink (or not a directory):
    /// restore never reads or writes through one.
    static func checkParents(root: String, _ relative: String) throws {
        var path = root
        for component in relative.split(separator: "/").dropLast() {
            path += "/" + component
            var st = stat()
            guard lstat(path, &st) == 0 else { return }  // missing: created (in the target) when writing
            if (st.st_mode & S_IFMT) == S_IFLNK {
                throw SmartSyncError(
                    .unsafePath,
                    "'\(path)' is a symlink; restore will not read or write through it. Replace it with a directory, or restore the file at its real path"
                )
            }
            if (st.st_mode & S_IFMT) != S_IFDIR {
                throw SmartSyncError(
                    .conflict, "'\(path)' is not a directory, so '\(relative)' cannot be there; move it away first")
            }
        }
    }

    /// The mode and id of the file or symlink at `path`, or nil when nothing is there.
    ///
    /// - Throws: `.conflict` when a directory or special file stands there.
    static func inspect(_ path: String, display: String) throws -> (mode: FileMode, id: ObjectID, metadata: FileMetadata)? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw SmartSyncError.io("lstat", path: path)
        }
        switch st.st_mode & S_IFMT {
        case S_IFLNK:
            return (.symlink, ObjectID.blob(try FileSystem.readLink(path)), FileMetadata(st))
        case S_IFREG:
            let mode: FileMode = (st.st_mode & 0o100) != 0 ? .executable : .regular
            return (mode, try BlobHasher.hashFile(atPath: path).id, FileMetadata(st))
        default:
            throw SmartSyncError(
                .conflict,
                "'\(display)' is a directory or special file, not a file; restore handles one file at a time. Move it away first"
            )
        }
    }

    /// Checks that the store object `id` still hashes to its id (it could have been written through a hardlink).
    static func verifyObject(_ id: ObjectID, store: ObjectStore, what: String) throws {
        guard store.contains(id) else {
            throw SmartSyncError(
                .notFound,
                "\(what) (\(id.abbreviated())) is no longer in the store at \(store.root) (was it cleaned, or is this the wrong --store?); see `smart-sync restore PATH --list` for other versions"
            )
        }
        let found = try BlobHasher.hashFile(atPath: store.path(for: id)).id
        guard found == id else {
            throw SmartSyncError(
                .integrity,
                "the store object of \(what) hashes to \(found.abbreviated()), not \(id.abbreviated()): it was changed through a hardlink. Try an older version (`--list`), and run `smart-sync verify --repair`"
            )
        }
    }

    private static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
