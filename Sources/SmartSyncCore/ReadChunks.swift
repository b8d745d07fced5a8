import Glibc

/// Reads `fd` from its current offset to the end in 256 KiB chunks, handing each chunk to `body`.
/// One buffer for the whole read; `EINTR` is retried; errors name `path`.
public func readChunks(fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
    let chunk = 256 * 1024
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    defer { buffer.deallocate() }
    while true {
        let n = read(fd, buffer.baseAddress, chunk)
        if n < 0 {
            if errno == EINTR { continue }
            throw SmartSyncError.io("read", path: path)
        }
        if n == 0 { return }
        try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }
}

/// The bytes of the file at `path`, for small files a user names (a CA bundle, an allowed-signers file). Throws
/// ``FileReadFailure`` with the system's reason when it cannot be opened or read.
public func readWholeFile(_ path: String) throws(FileReadFailure) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadFailure(reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    do {
        try readChunks(fd: fd, path: path) { bytes.append(contentsOf: $0) }
    } catch {
        // The errno of the failed read, kept in the error: the global may have changed since.
        let err = ((error as? SmartSyncError)?.cause as? SystemCallError)?.errno ?? errno
        throw FileReadFailure(reason: String(cString: strerror(err)))
    }
    return bytes
}

/// Why ``readWholeFile(_:)`` could not read a file: `strerror`'s words (`No such file or directory`).
public struct FileReadFailure: Error, Sendable {
    /// The reason, for a message.
    public var reason: String
}
