import GitObjects
import SmartSyncCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes one object into the store: bytes go to a temp file and through the blob hasher as they arrive;
/// ``commit()`` fsyncs, checks the id, makes the file read-only and renames it into `objects/`.
///
/// Used from one thread at a time (a transfer's callback thread, then the caller); `@unchecked Sendable`
/// because ownership moves between threads but is never shared concurrently.
public final class ObjectWriter: @unchecked Sendable {
    /// The id the content must hash to.
    public let expected: ObjectID
    /// The declared size.
    public let size: Int
    /// Bytes written so far.
    public private(set) var written: Int = 0
    private let store: ObjectStore
    private let tempPath: String
    private var fd: Int32
    private let hasher: BlobHasher
    private var finished = false

    init(store: ObjectStore, expected: ObjectID, size: Int) throws {
        self.store = store
        self.expected = expected
        self.size = size
        hasher = BlobHasher(size: size)
        tempPath =
            store.temporaryDirectory + "/" + expected.hex + "-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SmartSyncError.io(
                "open", path: tempPath, hint: "Check that the store directory is writable (--store)")
        }
    }

    /// Appends a chunk: hashed and written in place, no copy.
    public func write(_ chunk: UnsafeRawBufferPointer) throws {
        guard written + chunk.count <= size else {
            throw SmartSyncError(.integrity, "object \(expected) is longer than its declared \(size) bytes; discarded")
        }
        hasher.update(chunk)
        try FileSystem.pwriteAll(fd: fd, chunk, at: written, path: tempPath)
        written += chunk.count
    }

    /// Verifies and publishes the object. On a mismatch the temp file is removed and `.integrity` thrown.
    @discardableResult
    public func commit() throws -> ObjectID {
        precondition(!finished, "ObjectWriter committed twice")
        finished = true
        defer { closeAndRemoveTemp() }
        guard let id = hasher.finalize() else {
            throw SmartSyncError(.integrity, "object \(expected): received \(written) of \(size) bytes; discarded")
        }
        guard id == expected else {
            throw SmartSyncError(.integrity, "content hashes to \(id), not the expected \(expected); discarded")
        }
        try store.publish(fd: fd, path: tempPath, as: id)
        return id
    }

    /// Drops the partial object.
    public func abort() {
        guard !finished else { return }
        finished = true
        closeAndRemoveTemp()
    }

    private func closeAndRemoveTemp() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        unlink(tempPath)
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !finished { unlink(tempPath) }
    }
}
