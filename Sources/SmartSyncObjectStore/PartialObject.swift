import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// A download in progress that can be continued: by the next attempt of the same run (`Range: bytes=N-`), and,
/// when *kept*, by a later run after a crash or a `kill -9`.
///
/// A kept partial is `partials/<id>` (the bytes so far) plus `partials/<id>.meta` (``PartialMetadata``). It is
/// held under an exclusive `flock` on the data file for as long as this object is open, so two runs sharing a
/// store never write one partial at once (``ObjectStore/openPartial(expecting:size:url:keep:)`` returns nil to
/// the second). An unkept partial is a private file in `tmp/`, removed when it is closed.
///
/// Opening re-hashes the bytes already on disk; ``write(_:)`` appends; ``commit()`` verifies the whole object
/// against its id exactly as ``ObjectWriter`` does, publishes it and removes the partial. A mismatch removes it
/// too, so a damaged prefix costs one full download, never a wrong object.
///
/// Used from one thread at a time (the caller, then a transfer callback, then the caller again);
/// `@unchecked Sendable` because ownership moves between threads but is never shared concurrently.
public final class PartialObject: @unchecked Sendable {
    /// The id the content must hash to.
    public let id: ObjectID
    /// The object's size.
    public let size: Int
    /// True for a partial in `partials/` that outlives this run when not finished.
    public let isKept: Bool
    /// Bytes on disk (and hashed) so far: the offset to resume from.
    public private(set) var written: Int
    /// Bytes found on disk from an earlier run when the partial was opened.
    public let resumedFrom: Int
    /// The validator (`ETag` or `Last-Modified`) of the response the kept bytes came from.
    public private(set) var validator: String?
    /// The URL the kept bytes came from.
    public private(set) var url: String
    /// The data file.
    public let dataPath: String
    let metaPath: String?
    private let store: ObjectStore
    private var fd: Int32
    private var hasher: BlobHasher
    private var finished = false

    init(
        store: ObjectStore, id: ObjectID, size: Int, url: String, fd: Int32, dataPath: String, metaPath: String?,
        kept: PartialMetadata?
    ) throws {
        self.store = store
        self.id = id
        self.size = size
        self.fd = fd
        self.dataPath = dataPath
        self.metaPath = metaPath
        self.isKept = metaPath != nil
        self.url = url
        hasher = BlobHasher(size: size)
        written = 0
        var resumed = 0
        if let kept, kept.id == id, kept.size == size {
            var st = stat()
            let length = fstat(fd, &st) == 0 ? Int(st.st_size) : -1
            // Shorter than the metadata promises, or longer than the object: not ours to trust.
            if length >= kept.written, length <= size,
                (try? Self.hashPrefix(fd: fd, length: length, into: hasher)) != nil
            {
                resumed = length
                validator = kept.validator
                self.url = kept.url
            } else {
                hasher = BlobHasher(size: size)
            }
        }
        written = resumed
        resumedFrom = resumed
        if resumed == 0 { try truncateData() }
        try saveMetadata()
    }

    /// Feeds the first `length` bytes of `fd` to `hasher` (`pread`, 256 KiB at a time).
    static func hashPrefix(fd: Int32, length: Int, into hasher: BlobHasher) throws {
        let chunk = 256 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < length {
            let n = pread(fd, buffer.baseAddress, min(chunk, length - offset), off_t(offset))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw SmartSyncError(.io, "the kept partial download ended early while re-hashing") }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            offset += n
        }
    }

    /// The metadata as it stands now.
    public var metadata: PartialMetadata {
        PartialMetadata(id: id, size: size, url: url, validator: validator, written: written)
    }

    /// True once all ``size`` bytes are written.
    public var isComplete: Bool { written == size }

    /// Forgets the bytes so far (the server cannot continue them): truncates to zero and starts the hash afresh.
    public func restart() throws {
        precondition(!finished, "PartialObject used after it was finished")
        hasher = BlobHasher(size: size)
        written = 0
        validator = nil
        try truncateData()
        try saveMetadata()
    }

    /// Records the validator and URL of the response the following bytes come from.
    public func record(validator: String?, url: String) throws {
        guard validator != self.validator || url != self.url else { return }
        self.validator = validator
        self.url = url
        try saveMetadata()
    }

    /// Appends a chunk: hashed and written in place, no copy.
    public func write(_ chunk: UnsafeRawBufferPointer) throws {
        guard written + chunk.count <= size else {
            throw SmartSyncError(.integrity, "object \(id) is longer than its declared \(size) bytes; discarded")
        }
        hasher.update(chunk)
        try FileSystem.pwriteAll(fd: fd, chunk, at: written, path: dataPath)
        written += chunk.count
    }

    /// Verifies and publishes the object, then removes the partial. On a mismatch the partial is removed and
    /// `.integrity` thrown.
    @discardableResult
    public func commit() throws -> ObjectID {
        precondition(!finished, "PartialObject committed twice")
        guard let actual = hasher.finalize() else {
            remove()
            throw SmartSyncError(.integrity, "object \(id): received \(written) of \(size) bytes; discarded")
        }
        guard actual == id else {
            remove()
            throw SmartSyncError(.integrity, "content hashes to \(actual), not the expected \(id); discarded")
        }
        defer { remove() }
        try store.publish(fd: fd, path: dataPath, as: id)
        return id
    }

    /// Ends this run's use: a kept partial stays on disk (metadata brought up to date) for the next run; an
    /// unkept one is removed. Idempotent.
    public func suspend() {
        guard !finished else { return }
        guard isKept else { return remove() }
        finished = true
        try? saveMetadata()
        close(fd)  // drops the flock
        fd = -1
    }

    /// Removes the partial and its metadata. Idempotent.
    public func discard() {
        guard !finished else { return }
        remove()
    }

    private func remove() {
        finished = true
        // Unlink while still holding the lock, so no other run adopts a file about to vanish.
        unlink(dataPath)
        if let metaPath { unlink(metaPath) }
        if fd >= 0 { close(fd) }
        fd = -1
    }

    private func truncateData() throws {
        guard ftruncate(fd, 0) == 0 else { throw SmartSyncError.io("ftruncate", path: dataPath) }
    }

    private func saveMetadata() throws {
        guard let metaPath else { return }
        try metadata.write(to: metaPath, mode: 0o600)
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !finished && !isKept { unlink(dataPath) }
    }
}
