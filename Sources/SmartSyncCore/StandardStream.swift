import Glibc

/// The process's standard output or standard error, written with `write(2)` on its descriptor: the whole text,
/// retrying short writes and `EINTR`. Everything smart-sync writes goes through it (messages, progress, `--json`
/// lines, the listings of `status`, `pins`, `rollback --list` and `restore --list`), not `print` or Foundation's
/// `FileHandle`: nothing waits in a buffer, so what reaches one descriptor shared by stdout and stderr (`2>&1`) is in
/// the order it was written, and nothing is lost to an exit that skips the C library's flush.
/// A write that fails otherwise (a closed pipe, a full disk) drops the rest of the text: output is best effort.
public enum StandardStream: Sendable {
    case output
    case error

    /// The descriptor written to.
    public var descriptor: Int32 { self == .output ? STDOUT_FILENO : STDERR_FILENO }

    /// Writes `text` as UTF-8.
    public func write(_ text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    /// Writes `bytes`.
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Writes all of `buffer`.
    public func write(_ buffer: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}
