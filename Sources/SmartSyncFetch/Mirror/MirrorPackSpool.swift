import Glibc
import SmartSyncCore
import SmartSyncObjectStore
import SmartSyncTransfer

/// A mirror's `packs/<commit>.pack` spooled to the store's `tmp/`, resumable with `Range` across attempts and runs:
/// the file keeps the bytes so far, and `….meta` (a ``JSONRecord``) the URL and validator they came with, so the next
/// attempt asks `Range: bytes=N-` with `If-Range`. The same rules as a blob's partial (``StoreSink``): a `206` that
/// continues at N is appended, a `200` or a `206` from 0 starts over, a `206` from elsewhere empties the spool and asks
/// again. Held under an exclusive `flock` while a run writes it.
///
/// `@unchecked Sendable`: the engine calls it from its thread while a transfer runs; the caller touches it only between
/// transfers.
final class MirrorPackSpool: ResumableSink, @unchecked Sendable {
    /// The most a mirror's pack may be: the run's `--max-download` holds the bytes too.
    static let sizeLimit = 16 << 30

    struct Meta: JSONRecord {
        static let format = "smart-sync-mirror-pack"
        static let version = 1
        var url: String
        var validator: String?
    }

    let path: String
    private let metaPath: String
    private let fd: Int32
    private var url = ""
    private var meta: Meta?
    /// Bytes in the spool file.
    private(set) var written: Int
    /// The pack's size once a response said it.
    private var size: Int?
    private(set) var requestedOffset = 0
    private(set) var failure: SmartSyncError?
    private(set) var askAgain = false
    private(set) var received = 0

    /// Opens (or creates) the spool at `path` and locks it; nil when another run holds it.
    init?(path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw SmartSyncError.io("fstat", path: path)
        }
        self.fd = fd
        self.path = path
        metaPath = path + ".meta"
        written = Int(st.st_size)
        meta = (try? Meta.read(at: metaPath))??.record
        if meta == nil, written > 0 { try truncate() }  // bytes of unknown origin: start over
    }

    deinit { close(fd) }

    var isComplete: Bool { size.map { written == $0 } ?? false }

    /// Bytes kept from an earlier attempt or run.
    var keptBytes: Int { written }

    func prepare(url: String) throws -> [HTTPHeader] {
        self.url = url
        failure = nil
        askAgain = false
        requestedOffset = written
        guard written > 0 else { return [] }
        var headers = [HTTPHeader("Range", "bytes=\(written)-")]
        if let meta, meta.url == url, let validator = meta.validator { headers.append(HTTPHeader("If-Range", validator)) }
        return headers
    }

    func begin(status: Int, headers: HTTPHeaders) -> Bool {
        do {
            if status == 206 {
                let range = ContentRange(headers["content-range"])
                if range?.first != written {
                    try truncate()
                    guard range?.first == 0 else {
                        askAgain = true
                        failure = SmartSyncError(
                            .network, "\(url) answered a request for bytes \(requestedOffset)- with Content-Range "
                                + "'\(headers["content-range"] ?? "none")'; starting the pack over")
                        return false
                    }
                }
                size = range?.size
            } else {
                if written > 0 { try truncate() }
                size = headers["content-length"].flatMap { Int($0) }
            }
            if let size, size > Self.sizeLimit {
                failure = SmartSyncError(
                    .limitExceeded, "\(url) announces a pack of \(size) bytes, over the \(Self.sizeLimit) a mirror's pack may be")
                return false
            }
            let record = Meta(url: url, validator: StoreSink.validator(headers))
            try record.write(to: metaPath, mode: 0o600)
            meta = record
            return true
        } catch let error as SmartSyncError {
            failure = error
            return false
        } catch {
            return false
        }
    }

    func write(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard written + chunk.count <= size ?? Self.sizeLimit else {
            failure = SmartSyncError(.malformedResponse, "\(url) sent more bytes than it announced")
            return false
        }
        var done = 0
        while done < chunk.count {
            let n = pwrite(fd, chunk.baseAddress! + done, chunk.count - done, off_t(written + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                failure = SmartSyncError.io("pwrite", path: path)
                return false
            }
            done += n
        }
        written += chunk.count
        received += chunk.count
        return true
    }

    func restart() throws { try truncate() }

    /// Removes the spool and its metadata (after an import, or when the pack is refused).
    func remove() {
        unlink(metaPath)
        unlink(path)
    }

    private func truncate() throws {
        guard ftruncate(fd, 0) == 0 else { throw SmartSyncError.io("ftruncate", path: path) }
        written = 0
    }
}
