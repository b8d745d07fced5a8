import Glibc
import SmartSyncGitObjects

extension FileMode {
    /// The blob mode of a file whose `lstat` is `st`, as a kept version records it: `.symlink` for a symlink,
    /// `.executable` for a regular file its owner may execute, `.regular` for any other regular file; nil for anything
    /// else (a directory, FIFO, device or socket).
    init?(blobOf st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFLNK: self = .symlink
        case S_IFREG: self = st.st_mode & 0o100 != 0 ? .executable : .regular
        default: return nil
        }
    }
}
