import CLinuxShims
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Writes one object into the store: bytes go to a temp file and through the object hasher as they arrive;
/// ``commit()`` fsyncs, checks the id, makes the file read-only and renames it into `objects/`.
///
/// Objects of every kind are stored as their raw content (no git header); the kind only changes the hash.
/// Without an expected id, ``commit()`` publishes under the id the content hashes to.
///
/// Used from one thread at a time (a transfer's callback thread, then the caller); `@unchecked Sendable`
/// because ownership moves between threads but is never shared concurrently.
public final class ObjectWriter: @unchecked Sendable {
    /// The id the content must hash to, or nil when the writer computes it.
    public let expected: ObjectID?
    /// The object's kind (part of the hashed header).
    public let kind: ObjectKind
    /// The declared size.
    public let size: Int
    /// Bytes written so far.
    public private(set) var written: Int = 0
    private let store: ObjectStore
    private let tempPath: String
    private var fd: Int32
    private let hasher: BlobHasher
    private var finished = false

    init(store: ObjectStore, kind: ObjectKind = .blob, expected: ObjectID?, size: Int) throws {
        self.store = store
        self.kind = kind
        self.expected = expected
        self.size = size
        hasher = BlobHasher(kind: kind, size: size)
        let name = expected?.hex ?? "new-" + kind.rawValue
        tempPath = FileSystem.temporaryName(store.temporaryDirectory + "/" + name + "-")
        fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SmartSyncError.io(
                "open", path: tempPath, hint: "Check that the store directory is writable (--store)")
        }
    }

    private var displayName: String { expected.map { "object \($0)" } ?? "a new \(kind.rawValue) object" }

    /// Appends a chunk: hashed and written in place, no copy.
    public func write(_ chunk: UnsafeRawBufferPointer) throws {
        guard written + chunk.count <= size else {
            throw SmartSyncError(.integrity, "\(displayName) is longer than its declared \(size) bytes; discarded")
        }
        hasher.update(chunk)
        try FileSystem.pwriteAll(fd: fd, chunk, at: written, path: tempPath)
        written += chunk.count
    }

    /// Verifies and publishes the object; returns its id. On a mismatch the temp file is removed and
    /// `.integrity` thrown. Without an expected id, an object already in the store is left as it is.
    @discardableResult
    public func commit() throws -> ObjectID {
        precondition(!finished, "ObjectWriter committed twice")
        finished = true
        var keepTemp = false
        defer {
            if keepTemp { closeDescriptor() } else { closeAndRemoveTemp() }
        }
        guard let id = hasher.finalize() else {
            throw SmartSyncError(.integrity, "\(displayName): received \(written) of \(size) bytes; discarded")
        }
        if let expected {
            guard id == expected else {
                throw SmartSyncError(.integrity, "content hashes to \(id), not the expected \(expected); discarded")
            }
        } else if batch?.contains(id) ?? store.contains(id) {
            return id
        }
        if let batch {
            // Verified; durable and visible when the batch publishes. Writeback starts now.
            guard fchmod(fd, Seal.permissions(executable: false)) == 0 else {
                throw SmartSyncError.io("fchmod", path: tempPath)
            }
            try Seal.apply(fd: fd, path: tempPath)
            ss_start_writeback(fd)
            keepTemp = true
            batch.add(id, tempPath: tempPath)
            return id
        }
        try store.publish(fd: fd, path: tempPath, as: id)
        return id
    }

    /// The batch this writer's object joins at commit (``ObjectBatch/makeWriter(kind:size:)``), if any.
    var batch: ObjectBatch?

    /// Drops the partial object.
    public func abort() {
        guard !finished else { return }
        finished = true
        closeAndRemoveTemp()
    }

    private func closeAndRemoveTemp() {
        closeDescriptor()
        unlink(tempPath)
    }

    private func closeDescriptor() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !finished { unlink(tempPath) }
    }
}
