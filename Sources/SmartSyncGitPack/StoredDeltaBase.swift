import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// A delta's base read from its file in the store with `pread`, never whole: opened once per delta, its size
/// taken from `fstat` (what the delta's declared base size is checked against).
final class StoredDeltaBase: DeltaBase {
    let id: ObjectID
    let path: String
    let count: Int
    private let fd: Int32

    /// - Parameter path: where the base's bytes are (its store path, or its file in a batch not yet published).
    init(path: String, id: ObjectID) throws {
        self.id = id
        self.path = path
        // Never through a symlink planted at the object's path; a FIFO there must not block the open.
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            guard errno == ELOOP else { throw SmartSyncError.io("open", path: path) }
            throw ObjectStore.notAnObject(id, at: path, mode: S_IFLNK)
        }
        var st = stat()
        let statted = fstat(fd, &st) == 0
        guard statted, (st.st_mode & S_IFMT) == S_IFREG else {
            let error =
                statted
                ? ObjectStore.notAnObject(id, at: path, mode: st.st_mode)
                : SmartSyncError.io("fstat", path: path)
            close(fd)
            throw error
        }
        count = Int(st.st_size)
    }

    deinit { close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SmartSyncError.io("read", path: path)
            }
            guard n > 0 else {
                throw SmartSyncError(
                    .integrity, "the stored object \(id) at \(path) shrank while it was read as a delta base",
                    hint: "run again"
                )
            }
            done += n
        }
    }
}
