import Glibc

/// The process's standard output or standard error, written with `write(2)` on its descriptor: the whole text,
/// retrying short writes and `EINTR`. Everything smart-sync's own code writes goes through it (messages, progress,
/// `--json` lines, the listings of `status`, `pins`, `rollback --list` and `restore --list`; not ArgumentParser's help,
/// usage and `--version`), not `print` or Foundation's `FileHandle`: nothing waits in a buffer, so what reaches one
/// descriptor shared by stdout and stderr (`2>&1`) is in the order it was written, and nothing is lost to an exit that
/// skips the C library's flush.
///
/// A reader that is gone costs the text, never the run, for what is written here: the write is made with SIGPIPE
/// blocked on the writing thread (`PipeWriter.withoutSIGPIPE`), so a closed pipe (`smart-sync sync --json | head -1`)
/// answers `EPIPE`, the rest of the text is dropped, and a root run mid-apply goes on. The process's SIGPIPE
/// disposition stays the default, so children get it as it is: a child writing to the same descriptor itself
/// (`update`'s rebuild command without `--json` or `-q`, `RebuildRun.Output.inheritToStderr`) dies of a gone reader,
/// and the update rolls back. A full non-blocking descriptor (`EAGAIN`: `O_NONBLOCK` set by whoever shares the pipe) is
/// waited on with `poll` until it takes more, as a blocking one would block. Any other failure (a full disk) drops the
/// rest of the text: output is best effort.
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
        PipeWriter.withoutSIGPIPE {
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK {
                        var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&entry, 1, -1)
                        continue
                    }
                    return
                }
                offset += n
            }
        }
    }
}
