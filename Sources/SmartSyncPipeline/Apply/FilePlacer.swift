import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Puts store objects into a directory under a temporary name, the way a ``LinkMode`` says, checking each object
/// against its ``Seal`` just before (``ObjectStore/sealedPath(for:executable:size:)``): a damaged object is never
/// linked, copied or reflinked anywhere.
///
/// `auto` learns from its first regular file whether the target's file system takes reflinks from the store, and
/// sticks to what it learnt for the rest of the apply.
struct FilePlacer {
    let store: ObjectStore
    let mode: LinkMode
    /// fsync each reflinked or copied file (an in-place apply); a staged apply syncs the file system once instead.
    let syncEachFile: Bool
    /// Where a staged apply gets the executable twins it links: made unsynced, published after the stage's sync
    /// (``TwinBatch``). Nil: each missing twin is made durable on its own (``ObjectStore/executablePath(for:)``).
    let twins: TwinBatch?
    /// `auto`: whether reflinks work here (nil until the first file tells).
    private var reflinks: Bool?

    init(store: ObjectStore, mode: LinkMode, syncEachFile: Bool, twins: TwinBatch? = nil) {
        self.store = store
        self.mode = mode
        self.syncEachFile = syncEachFile
        self.twins = twins
        reflinks = mode == .hardlink ? false : nil
    }

    /// Places the blob `id` at `tmp` in `dirFD`. `shareable` is false when the same blob and mode is already at
    /// another path of the target: that path must not share its inode, so it gets a reflink or a copy.
    mutating func place(
        _ id: ObjectID, executable: Bool, size: Int?, shareable: Bool, dirFD: Int32, tmp: String, display: String
    ) throws -> PlacementMethod {
        switch mode {
        case .copy:
            return try clone(id, executable: executable, size: size, reflink: false, dirFD: dirFD, tmp: tmp, display)
        case .reflink:
            let source = try store.sealedPath(for: id, executable: false, size: size)
            if let method = try Materializer.clone(
                source: source, dirFD: dirFD, tmp: tmp, executable: executable, reflink: true, copyFallback: false,
                syncFile: syncEachFile, display: display)
            {
                return method
            }
            let err = errno
            throw SmartSyncError(
                .io,
                "--link-mode reflink: the file system of '\(display)' cannot share extents with the store at "
                    + "\(store.root) (\(String(cString: strerror(err))))",
                hint: "use --link-mode auto (reflinks where possible, else hard links) or copy",
                cause: SystemCallError("ioctl(FICLONE)", errno: err))
        case .auto where reflinks != false:
            let source = try store.sealedPath(for: id, executable: false, size: size)
            if let method = try Materializer.clone(
                source: source, dirFD: dirFD, tmp: tmp, executable: executable, reflink: true, copyFallback: false,
                syncFile: syncEachFile, display: display)
            {
                reflinks = true
                return method
            }
            reflinks = false
            return try hardlink(id, executable: executable, size: size, shareable: shareable, dirFD, tmp, display)
        case .auto, .hardlink:
            return try hardlink(id, executable: executable, size: size, shareable: shareable, dirFD, tmp, display)
        }
    }

    /// A hard link of the object (of its `0555` twin for executables); a reflink or copy for a second path, or where
    /// the file system refuses the link (`EXDEV`: another file system; `EMLINK`: too many links; `EPERM`).
    private func hardlink(
        _ id: ObjectID, executable: Bool, size: Int?, shareable: Bool, _ dirFD: Int32, _ tmp: String,
        _ display: String
    ) throws -> PlacementMethod {
        if shareable {
            var source = try linkSource(id, executable: executable, size: size)
            if linkat(AT_FDCWD, source, dirFD, tmp, 0) == 0 { return .hardlink }
            if errno == ENOENT {
                // Another run replaced the object (or dropped its twin) between the check and the link: once more.
                source = try linkSource(id, executable: executable, size: size)
                if linkat(AT_FDCWD, source, dirFD, tmp, 0) == 0 { return .hardlink }
            }
            let err = errno
            guard err == EXDEV || err == EMLINK || err == EPERM else {
                throw SmartSyncError.io(
                    "link", path: display, errno: err,
                    hint: err == ENOENT ? "the object \(source) is missing from the store; run the sync again" : nil)
            }
        }
        return try clone(id, executable: executable, size: size, reflink: true, dirFD: dirFD, tmp: tmp, display)
    }

    /// The object (or its `0555` twin) to hard-link, checked against its seal just before.
    private func linkSource(_ id: ObjectID, executable: Bool, size: Int?) throws -> String {
        guard executable, let twins else { return try store.sealedPath(for: id, executable: executable, size: size) }
        _ = try store.sealedPath(for: id, executable: false, size: size)
        return try twins.linkablePath(for: id)
    }

    private func clone(
        _ id: ObjectID, executable: Bool, size: Int?, reflink: Bool, dirFD: Int32, tmp: String, _ display: String
    ) throws -> PlacementMethod {
        let source = try store.sealedPath(for: id, executable: false, size: size)
        return try Materializer.clone(
            source: source, dirFD: dirFD, tmp: tmp, executable: executable, reflink: reflink, copyFallback: true,
            syncFile: syncEachFile, display: display)!
    }
}
