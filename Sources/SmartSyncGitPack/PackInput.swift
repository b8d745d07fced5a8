import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// Buffered reads from a pack file with a bounded buffer, hashing every byte as it is consumed (for the trailer).
///
/// ``offset`` is the position in the file of the next unconsumed byte: an entry's offset is read from it before
/// its header. Reads use `pread`, so several inputs may share one descriptor (the re-read of pending deltas).
final class PackInput {
    private let fd: Int32
    private let path: String
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// The file offset of `buffer[end]`.
    private var fileOffset: Int
    private var hasher: SHA1Hasher?
    private let arrival: PackArrival?

    /// - Parameters:
    ///   - offset: where to start reading.
    ///   - hashing: feed consumed bytes to a SHA-1 (only meaningful from offset 0).
    ///   - arrival: the pack is still arriving: at the end of the file, wait for more (see ``PackArrival``).
    init(
        fd: Int32, path: String, at offset: Int = 0, capacity: Int = 256 * 1024, hashing: Bool,
        arrival: PackArrival? = nil
    ) {
        self.fd = fd
        self.path = path
        self.arrival = arrival
        fileOffset = offset
        buffer = .allocate(byteCount: capacity, alignment: 16)
        hasher = hashing ? SHA1Hasher() : nil
    }

    deinit { buffer.deallocate() }

    /// The file offset of the next unconsumed byte.
    var offset: Int { fileOffset - (end - start) }

    /// The buffered, unconsumed bytes (valid until the next ``fill()`` or ``consume(_:)``).
    var available: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[start..<end]) }

    /// Reads more bytes into the buffer. Returns false at the end of the file (or when the buffer is full of
    /// unconsumed bytes, which callers avoid by consuming first).
    func fill() throws -> Bool {
        if start > 0 {
            if start < end { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start) }
            end -= start
            start = 0
        }
        guard end < buffer.count else { return false }
        while true {
            let n = pread(fd, buffer.baseAddress! + end, buffer.count - end, off_t(fileOffset))
            if n < 0 {
                if errno == EINTR { continue }
                throw SmartSyncError.io("read", path: path)
            }
            if n == 0, let arrival, arrival.wait(beyond: fileOffset) { continue }
            end += n
            fileOffset += n
            return n > 0
        }
    }

    /// Marks `count` buffered bytes as read, hashing them.
    func consume(_ count: Int) {
        precondition(count <= end - start, "PackInput.consume beyond the buffer")
        hasher?.update(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)]))
        start += count
    }

    /// The next byte, or nil at the end of the file.
    func readByte() throws -> UInt8? {
        if start == end, try !fill() { return nil }
        let byte = buffer[start]
        consume(1)
        return byte
    }

    /// Exactly `count` bytes, or nil when the file ends first (what was there is consumed).
    func read(count: Int) throws -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            if start == end, try !fill() { return nil }
            let n = min(count - out.count, end - start)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + n)]))
            consume(n)
        }
        return out
    }

    /// True when every byte of the file has been consumed.
    func atEnd() throws -> Bool {
        if start < end { return false }
        return try !fill()
    }

    /// The SHA-1 of everything consumed so far; hashing stops here (the input must have been made with
    /// `hashing: true`, and this called once).
    func digest() -> ObjectID {
        guard let hasher else { preconditionFailure("PackInput.digest without hashing") }
        self.hasher = nil
        return hasher.finalize()
    }
}
