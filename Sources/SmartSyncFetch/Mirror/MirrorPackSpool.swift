import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer

/// A mirror's `packs/<commit>.pack` spooled to the store's `tmp/`, resumable with `Range` across attempts and runs:
/// the file keeps the bytes so far, and `….meta` (a ``JSONRecord``) the URL and validator they came with, so the next
/// attempt asks `Range: bytes=N-` with `If-Range` (never without: bytes no validator ties to the file start over). The
/// same rules as a blob's partial (``ResumeRule``): a `206` that
/// continues at N is appended, a `200` or a `206` from 0 starts over, a `206` from elsewhere empties the spool and asks
/// again. A `200` that announces no size (chunked, as CDNs and HTTP/2 send it) is complete when it ends cleanly: the
/// importer checks the pack's trailer and hashes every object. Held under an exclusive `flock` while a run writes it.
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
    /// The most this pack may be (its listing's bytes and room for the pack's overhead; at most ``sizeLimit``).
    let limit: Int
    /// The pack's size once a response said it.
    private var size: Int?
    /// The current response is a whole body of no announced size: its clean end is the pack's end.
    private var openEnded = false
    private(set) var requestedOffset = 0
    private(set) var failure: SmartSyncError?
    private(set) var askAgain = false
    private(set) var received = 0

    /// Opens (or creates) the spool at `path` and locks it; nil when another run holds it. `limit`: the most bytes
    /// the pack may be (a response announcing or sending more is refused as malformed).
    init?(path: String, limit: Int = MirrorPackSpool.sizeLimit) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let err = errno  // before `close`, which may change it
            close(fd)
            throw SmartSyncError.io("fstat", path: path, errno: err)
        }
        self.fd = fd
        self.path = path
        self.limit = min(limit, Self.sizeLimit)
        metaPath = path + ".meta"
        written = Int(st.st_size)
        meta = (try? Meta.read(at: metaPath))??.record
        if meta == nil, written > 0 { try truncate() }  // bytes of unknown origin: start over
    }

    deinit { close(fd) }

    /// Every byte has arrived: the announced size, or the clean end of a body that announced none (asked only after
    /// a transfer that did not fail).
    var isComplete: Bool { size.map { written == $0 } ?? openEnded }

    /// Bytes kept from an earlier attempt or run.
    var keptBytes: Int { written }

    func prepare(url: String) throws -> [HTTPHeader] {
        self.url = url
        failure = nil
        askAgain = false
        openEnded = false
        requestedOffset = written
        guard written > 0 else { return [] }
        // Only with a validator: two publishers (or git versions) may write different bytes under one pack name, and
        // a Range without If-Range would splice theirs onto ours. Without one, the pack starts over.
        guard let meta, meta.url == url, let validator = meta.validator else {
            try truncate()
            requestedOffset = 0
            return []
        }
        return [HTTPHeader("Range", "bytes=\(written)-"), HTTPHeader("If-Range", validator)]
    }

    func begin(status: Int, headers: HTTPHeaders) -> Bool {
        do {
            let range = status == 206 ? ContentRange(headers["content-range"]) : nil
            switch ResumeRule(status: status, range: range, kept: written) {
            case .append: break
            case .startOver: try truncate()
            case .askAgain:
                try truncate()
                askAgain = true
                let said = headers["content-range"].map { EscapedText.excerpt($0) } ?? "none"
                failure = SmartSyncError(
                    .network,
                    "\(url) answered a request for bytes \(requestedOffset)- with Content-Range '\(said)'; starting "
                        + "the pack over")
                return false
            }
            size = status == 206 ? range?.size : headers["content-length"].flatMap { Int($0) }
            openEnded = status != 206 && size == nil
            if let size, size > limit {
                failure = SmartSyncError(
                    .malformedResponse,
                    "\(url) announces a pack of \(size) bytes, over the \(limit) its listing allows")
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
        guard written + chunk.count <= size ?? limit else {
            failure = SmartSyncError(
                .malformedResponse, "\(url) sent more bytes than it announced (or than its listing allows, \(limit))")
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
