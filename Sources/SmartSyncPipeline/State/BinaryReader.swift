import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Reads what ``BinaryWriter`` wrote (`magic | version | body | SHA-1 of everything before it`). Every accessor
/// returns nil past the end of the body instead of trapping.
///
/// One decoder, two inputs:
/// - bytes in memory (``init(_:magic:versions:)``): bytes it does not own (an array's storage), valid only while its
///   maker's scope lasts, so a reader is made, used and dropped inside it; the checksum is checked before the first
///   read.
/// - a file, decoded as it is read (``decodeFile(_:magic:versions:regularOnly:bufferSize:_:)``): through one small
///   buffer the reader owns, refilled as the decoder consumes it (a record longer than the buffer grows it), the
///   SHA-1 taken over the bytes as they pass, the last 20 bytes read held back as the possible checksum. A file's
///   body is proven only at its end: ``isAtEnd`` is true only there and only when the checksum matched, every decoder
///   ends on it, and ``decodeFile(_:magic:versions:regularOnly:bufferSize:_:)`` asks it again, so nothing a damaged
///   file gave is kept. No whole-file array: the state and the stat cache of 20,000 files are 3 MB, ~730 page faults
///   of a no-op before its walk; not mapped either (ARCHITECTURE, "Read, not mapped").
///
/// What it returns owns its storage.
struct BinaryReader {
    /// The bytes at hand: the input's (in memory), or the buffer's filled part (a file).
    private var bytes: UnsafeBufferPointer<UInt8>
    private var offset = 0
    /// Where the readable body ends in ``bytes``: before the checksum, or (a file not read to its end) before the
    /// last 20 bytes read, which may be it.
    private var end: Int
    /// The file read as it goes; nil for bytes in memory.
    private let file: FileInput?
    /// Whether the checksum matched: in memory from the start, a file's once its end was read.
    private var proven: Bool
    /// The version the input's header gave (one of the versions its maker accepts).
    private(set) var version: UInt32 = 0
    /// Where the last path read lies in ``bytes`` (nil before the first); kept in the buffer when a file's is refilled.
    private var lastPath: Range<Int>?
    /// Whether every path read so far was strictly greater (by bytes) than the one before: found where the bytes lie,
    /// one `memcmp` a path, so a table read in order (``PathTable/init(keysInOrder:values:)``) is not checked again
    /// path by path (which chases each path's own storage: 2 % of a no-op's samples at 20,000 files).
    private(set) var pathsIncreasing = true

    /// A reader of `bytes` in memory; nil when the magic, the version (one of `versions`) or the checksum is wrong.
    init?(_ bytes: UnsafeBufferPointer<UInt8>, magic: StaticString, versions: ClosedRange<UInt32>) {
        guard bytes.count >= 20 else { return nil }
        let digest = SHA1Hasher()
        digest.update(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[..<(bytes.count - 20)])))
        guard digest.finalize().bytes.elementsEqual(bytes[(bytes.count - 20)...]) else { return nil }
        self.bytes = bytes
        self.end = bytes.count - 20
        self.file = nil
        self.proven = true
        guard readHeader(magic: magic, versions: versions) else { return nil }
    }

    /// ``init(_:magic:versions:)`` of one version.
    init?(_ bytes: UnsafeBufferPointer<UInt8>, magic: StaticString, version: UInt32) {
        self.init(bytes, magic: magic, versions: version...version)
    }

    /// A reader of `file`, nothing read yet.
    private init(file: FileInput) {
        self.bytes = UnsafeBufferPointer(start: file.storage, count: 0)
        self.end = 0
        self.file = file
        self.proven = false
    }

    /// Decodes the file at `path` with `decode` (given the reader past the header, and the file's mtime in ns since
    /// the epoch) as it reads it. Nil when there is no file there (opened as
    /// ``FileSystem/withFileIfPresent(_:regularOnly:_:)`` opens it: with `regularOnly`, a symlink, a FIFO or another
    /// file that is not regular is none), and when the file is damaged: cut, longer, a byte changed (its checksum
    /// fails), or `decode` found it wrong. The buffer starts at `bufferSize` bytes.
    ///
    /// - Throws: `SmartSyncError` (`.io`) naming `path` when it cannot be opened or read, as that call throws; a read
    ///   that fails once `decode` has stopped (proving the checksum reads on to the end) throws too.
    static func decodeFile<T>(
        _ path: String, magic: StaticString, versions: ClosedRange<UInt32>, regularOnly: Bool = false,
        bufferSize: Int = BinaryReader.bufferSize, _ decode: (inout BinaryReader, _ mtimeNs: Int64) -> T?
    ) throws -> T? {
        let decoded = try FileSystem.withFileIfPresent(path, regularOnly: regularOnly) { fd, st -> T? in
            let file = FileInput(fd: fd, path: path, size: Int(st.st_size), capacity: bufferSize)
            var r = BinaryReader(file: file)
            let value = r.readHeader(magic: magic, versions: versions) ? decode(&r, Timestamps.mtimeNs(st)) : nil
            let atEnd = r.isAtEnd  // may read on: a failure there is an error, not a damaged file
            if let failure = file.failure { throw failure }
            return atEnd ? value : nil
        }
        return decoded ?? nil
    }

    /// The size of the buffer a file is read through at first: 64 KiB, under `malloc`'s threshold for a mapping of
    /// its own (128 KiB), so its pages come from the heap: 16 pages a file, where the whole arrays of the state and
    /// the stat cache of 20,000 files took ~730.
    static let bufferSize = 64 << 10

    /// Reads the magic and the version; false when either is wrong.
    private mutating func readHeader(magic: StaticString, versions: ClosedRange<UInt32>) -> Bool {
        let count = magic.utf8CodeUnitCount
        guard has(count),
            magic.withUTF8Buffer({ $0.elementsEqual(UnsafeBufferPointer(rebasing: bytes[offset..<(offset + count)])) })
        else { return false }
        offset += count
        guard let v = readUInt32(), versions.contains(v) else { return false }
        version = v
        return true
    }

    /// At the end of the body, and the checksum matched (a file's: read to its end to know).
    var isAtEnd: Bool {
        mutating get {
            if offset == end && !proven { _ = refill(1) }
            return offset == end && proven
        }
    }

    /// `count` records read next, each at least `size` bytes, as many as the rest of the input could hold (a file's
    /// by its size when it was opened): what to reserve for them, so a count read before the checksum is proven (a
    /// damaged file's) asks for no more memory than the input could fill.
    func reservation(_ count: UInt32, each size: Int) -> Int {
        let left = file.map { $0.size - $0.dropped - offset } ?? (end - offset)
        return min(Int(count), max(0, left) / size)
    }

    mutating func readUInt32() -> UInt32? {
        guard has(4) else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    mutating func readUInt64() -> UInt64? {
        guard has(8) else { return nil }
        let v = UnsafeRawBufferPointer(bytes).loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: v)
    }

    mutating func readInt64() -> Int64? { readUInt64().map { Int64(bitPattern: $0) } }

    mutating func readString() -> String? {
        guard let n = readUInt32().map(Int.init), has(n) else { return nil }
        let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<(offset + n)]), as: UTF8.self)
        offset += n
        return s
    }

    mutating func readPath() -> TreePath? {
        guard let n = readUInt32().map(Int.init), has(n) else { return nil }
        notePath(offset..<(offset + n))
        let path = TreePath(bytes: UnsafeBufferPointer(rebasing: bytes[offset..<(offset + n)]))
        offset += n
        return path
    }

    /// A path, as ``readPath()``, but when `shared` (strictly increasing, read forward from `next` as the file's paths
    /// increase) holds the same bytes, that path itself: no new storage. Files written in path order (state, stat
    /// cache) read this way share one `TreePath` per path with the table that was read first.
    mutating func readPath(sharing shared: [TreePath], from next: inout Int) -> TreePath? {
        guard let n = readUInt32().map(Int.init), has(n) else { return nil }
        let start = offset
        offset += n
        notePath(start..<offset)
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<(start + n)])
        while next < shared.count {
            let order = shared[next].compare(bytes: raw)
            if order > 0 { break }
            next += 1
            if order == 0 { return shared[next - 1] }
        }
        return TreePath(bytes: raw)
    }

    mutating func readID() -> ObjectID? {
        guard has(20) else { return nil }
        let id = ObjectID(bytes: bytes[offset..<(offset + 20)])
        offset += 20
        return id
    }

    /// Starts a new run of paths for ``pathsIncreasing`` (a file holding two tables: each is in order on its own).
    mutating func startPaths() {
        lastPath = nil
        pathsIncreasing = true
    }

    /// Notes that a path lies at `range`, and whether it sorts after the one before (``pathsIncreasing``).
    private mutating func notePath(_ range: Range<Int>) {
        defer { lastPath = range }
        guard pathsIncreasing, let last = lastPath else { return }
        let common = min(last.count, range.count)
        let base = bytes.baseAddress!
        let order = common == 0 ? 0 : memcmp(base + last.lowerBound, base + range.lowerBound, common)
        pathsIncreasing = order != 0 ? order < 0 : last.count < range.count
    }

    /// Whether `n` bytes of the body are at hand at ``offset`` (a file's refilled to have them when it can).
    @inline(__always)
    private mutating func has(_ n: Int) -> Bool { end - offset >= n || refill(n) }

    /// Makes `n` bytes of the body readable at ``offset`` when the file has them: drops what was read but the last
    /// path (``notePath(_:)`` compares with it), reads on (the buffer grown when full), and at the file's end checks
    /// the checksum: on a mismatch nothing more is readable. False for bytes in memory, which are all at hand.
    @inline(never)
    private mutating func refill(_ n: Int) -> Bool {
        guard let file, !file.atEnd else { return false }
        let keep = min(offset, lastPath?.lowerBound ?? offset)
        file.drop(keep)
        offset -= keep
        lastPath = lastPath.map { ($0.lowerBound - keep)..<($0.upperBound - keep) }
        while file.count - 20 - offset < n && !file.atEnd { file.readMore() }
        bytes = UnsafeBufferPointer(start: file.storage, count: file.count)
        end = max(offset, file.count - 20)
        if file.atEnd {
            proven = file.checksumMatches()
            if !proven { end = offset }
        }
        return end - offset >= n
    }

    /// A file open for reading and the buffer it is read into (a class: the buffer is freed with it).
    private final class FileInput {
        let fd: Int32
        let path: String
        /// The file's size when it was opened (its `fstat`): for ``reservation(_:each:)`` only; the file is read
        /// to its end, whatever that is.
        let size: Int
        private(set) var storage: UnsafeMutablePointer<UInt8>
        private var capacity: Int
        /// Bytes in ``storage``.
        private(set) var count = 0
        /// Bytes dropped from the front of ``storage`` so far.
        private(set) var dropped = 0
        /// ``storage``'s first bytes fed to ``digest``: all but the last 20 read, which may be the checksum.
        private var hashed = 0
        private let digest = SHA1Hasher()
        /// The end of the file was read, or reading failed (``failure``).
        private(set) var atEnd = false
        private(set) var failure: SmartSyncError?

        init(fd: Int32, path: String, size: Int, capacity: Int) {
            self.fd = fd
            self.path = path
            self.size = size
            self.capacity = max(capacity, 64)
            self.storage = .allocate(capacity: self.capacity)
        }

        deinit { storage.deallocate() }

        /// Drops the first `k` bytes (all hashed: the reader never reads into the last 20).
        func drop(_ k: Int) {
            guard k > 0 else { return }
            (storage).update(from: storage + k, count: count - k)
            count -= k
            hashed -= k
            dropped += k
        }

        /// Reads once more, into a buffer twice as large when this one is full, and feeds the digest every byte now
        /// followed by 20 more.
        func readMore() {
            if count == capacity {
                let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                larger.update(from: storage, count: count)
                storage.deallocate()
                storage = larger
                capacity *= 2
            }
            let n = read(fd, storage + count, capacity - count)
            if n < 0 {
                if errno == EINTR { return }
                failure = SmartSyncError.io("read", path: path)
                atEnd = true
                return
            }
            if n == 0 {
                atEnd = true
                return
            }
            count += n
            if count - 20 > hashed {
                digest.update(UnsafeRawBufferPointer(start: storage + hashed, count: count - 20 - hashed))
                hashed = count - 20
            }
        }

        /// Whether the last 20 bytes (at the end of the file) are the SHA-1 of all before them.
        func checksumMatches() -> Bool {
            guard count >= 20, failure == nil else { return false }
            return digest.finalize().bytes.elementsEqual(UnsafeBufferPointer(start: storage + count - 20, count: 20))
        }
    }
}
