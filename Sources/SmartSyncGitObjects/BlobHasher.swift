import Glibc
import SmartSyncCore

/// Streams content through git's object hash: `SHA1("<kind> <size>\0" + content)` (`"blob <size>\0"` unless
/// another kind is given).
///
/// The size must be known up front (it is part of the header). Feeding more or fewer bytes than declared is
/// detected by ``finalize()``.
public final class BlobHasher {
    private let sha = SHA1Hasher()
    /// The object kind named in the header.
    public let kind: ObjectKind
    /// The size declared in the header.
    public let expectedSize: Int
    /// Bytes fed so far.
    public private(set) var count: Int = 0

    /// Hashes a blob of `size` bytes.
    public convenience init(size: Int) {
        self.init(kind: .blob, size: size)
    }

    /// Hashes an object of any kind (tree, commit and tag objects hash with their own header).
    public init(kind: ObjectKind, size: Int) {
        self.kind = kind
        expectedSize = size
        sha.update(kind.header(size: size))
    }

    @inlinable
    public func update(_ buffer: UnsafeRawBufferPointer) {
        updateCounted(buffer)
    }

    @usableFromInline
    func updateCounted(_ buffer: UnsafeRawBufferPointer) {
        count += buffer.count
        sha.update(buffer)
    }

    public func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        count += bytes.count
        sha.update(bytes)
    }

    /// The object id, or nil when the byte count differs from the declared size.
    public func finalize() -> ObjectID? {
        let id = sha.finalize()
        return count == expectedSize ? id : nil
    }
}

extension BlobHasher {
    /// Hashes a regular file as a git blob, reading it in 256 KiB chunks.
    public static func hashFile(atPath path: String) throws -> (id: ObjectID, size: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SmartSyncError.io("fstat", path: path) }
        return try hash(fd: fd, size: Int(st.st_size), path: path)
    }

    /// Hashes `size` bytes read from `fd` from its current offset.
    public static func hash(fd: Int32, size: Int, path: String) throws -> (id: ObjectID, size: Int) {
        let hasher = BlobHasher(size: size)
        try readChunks(fd: fd, path: path) { hasher.update($0) }
        guard let id = hasher.finalize() else {
            throw SmartSyncError(.io, "'\(path)' changed size while it was being hashed",
            hint: "run again when it is quiet")
        }
        return (id, size)
    }
}

extension ObjectID {
    /// The blob id of in-memory content.
    public static func blob<C: Collection>(_ content: C) -> ObjectID where C.Element == UInt8 {
        hash(.blob, content)
    }
}
