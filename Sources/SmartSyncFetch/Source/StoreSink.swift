import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer

/// Streams a blob's response bodies into a ``PartialObject``: hashed and `pwrite`n inside the transfer callback,
/// each attempt continuing where the previous one (or a previous run) stopped.
///
/// Per attempt: ``prepare(url:)`` gives the `Range`/`If-Range` headers for the bytes still missing;
/// ``begin(status:headers:)`` checks that the server continues exactly there (a `206` whose `Content-Range` starts at
/// the kept offset), and otherwise starts the object over: a `200` is taken from byte 0, a `206` from elsewhere aborts
/// the attempt with ``askAgain`` set.
///
/// `@unchecked Sendable`: the engine calls it from its thread while a transfer runs; the caller touches it only
/// between transfers. The two never overlap.
final class StoreSink: ResumableSink, @unchecked Sendable {
    /// Objects at least this large keep their partial download in the store for a later run; smaller ones are
    /// resumed only by this run's retries (re-downloading them costs less than the bookkeeping).
    static let keepThreshold = 1 << 20

    private let store: ObjectStore
    let want: BlobWant
    private let progress: FetchProgress
    /// What the run may still add to the store (`--max-download`): every byte written is taken from it.
    private let budget: ByteBudget?
    private var partial: PartialObject?
    private var url = ""
    /// The offset the current attempt asked for (0: the whole body).
    private(set) var requestedOffset = 0
    /// The first error met while writing (reported after the transfer).
    private(set) var failure: SmartSyncError?
    /// The attempt was refused for a reason another attempt may not meet (a `206` from the wrong offset, after
    /// which the partial was emptied; a `Content-Length` that does not fit the object): ask again.
    private(set) var askAgain = false
    /// Body bytes received over all attempts.
    private(set) var received = 0

    init(store: ObjectStore, want: BlobWant, progress: FetchProgress, budget: ByteBudget? = nil) {
        self.store = store
        self.want = want
        self.progress = progress
        self.budget = budget
    }

    /// True once every byte of the object is written.
    var isComplete: Bool { partial?.isComplete ?? false }

    /// Bytes kept from an earlier run that this download continues from.
    var resumedFrom: Int { partial?.resumedFrom ?? 0 }

    /// Starts an attempt at `url`: the headers asking for the bytes still missing (`Range: bytes=N-`, with
    /// `If-Range` when the kept bytes came from this URL with a validator), or none for the whole object.
    func prepare(url: String) throws -> [HTTPHeader] {
        self.url = url
        failure = nil
        askAgain = false
        if partial == nil, let size = want.size { try open(size: size) }
        guard let partial, partial.written > 0 else {
            requestedOffset = 0
            return []
        }
        requestedOffset = partial.written
        var headers = [HTTPHeader("Range", "bytes=\(partial.written)-")]
        if let validator = partial.validator, partial.url == url { headers.append(HTTPHeader("If-Range", validator)) }
        return headers
    }

    private func open(size: Int) throws {
        let keep = size >= Self.keepThreshold
        // Another run holding this object's partial: download it separately rather than wait.
        let opened =
            try store.openPartial(expecting: want.id, size: size, url: url, keep: keep)
            ?? store.openPartial(expecting: want.id, size: size, url: url, keep: false)
        partial = opened
        if let opened, opened.resumedFrom > 0 { progress.bytes(opened.resumedFrom) }
    }

    func begin(status: Int, headers: HTTPHeaders) -> Bool {
        do {
            if partial == nil {
                // The tree gave no size: take it from the response.
                let size =
                    status == 206
                    ? ContentRange(headers["content-range"])?.size : headers["content-length"].flatMap { Int($0) }
                guard let size else {
                    failure = SmartSyncError(
                        .malformedResponse,
                        "no size is known for blob \(want.id) ('\(want.path)'): the tree gave none and "
                            + "\(url) sent no Content-Length"
                    )
                    return false
                }
                try open(size: size)
            }
            guard let partial else { return false }
            let range = status == 206 ? ContentRange(headers["content-range"]) : nil
            if let total = range?.size, total != partial.size {
                failure = SmartSyncError(
                    .integrity,
                    "\(url) says blob \(want.id) ('\(want.path)') has \(total) bytes, but the tree "
                        + "says \(partial.size); discarded"
                )
                return false
            }
            switch ResumeRule(status: status, range: range, kept: partial.written) {
            case .append: break
            case .startOver: try partial.restart()  // a 206 from 0, or a 200 where a range was asked: the whole body
            case .askAgain:
                try partial.restart()
                askAgain = true
                let said = headers["content-range"].map { EscapedText.excerpt($0) } ?? "none"
                failure = SmartSyncError(
                    .network,
                    "\(url) answered the request for bytes \(requestedOffset)- of '\(want.path)' with Content-Range "
                        + "'\(said)'; starting the blob over"
                )
                return false
            }
            // A body whose announced length does not fit the object is misframed (a proxy or server bug): refuse it
            // before a byte is taken, which also keeps curl from reusing the connection it arrived on.
            let expected = partial.size - partial.written
            if let length = headers["content-length"].flatMap({ Int($0) }), length != expected {
                askAgain = true
                failure = SmartSyncError(
                    .malformedResponse,
                    "\(url) announced \(length) bytes (Content-Length) where \(expected) of blob \(want.id) "
                        + "('\(want.path)') were expected",
                    hint: "check --raw-url or a proxy in between"
                )
                return false
            }
            try partial.record(validator: Self.validator(headers), url: url)
            return true
        } catch let error as SmartSyncError {
            failure = error
            return false
        } catch {
            return false
        }
    }

    /// The response's strong `ETag`, else its `Last-Modified` (weak ETags may not be used in `If-Range`).
    static func validator(_ headers: HTTPHeaders) -> String? {
        if let etag = headers["etag"], !etag.hasPrefix("W/"), !etag.isEmpty { return etag }
        return headers["last-modified"]
    }

    func write(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard let partial else { return false }
        if let budget, !budget.take(chunk.count) {
            failure = SmartSyncError(
                .limitExceeded,
                "storing '\(want.path)' (blob \(want.id.abbreviated())) from \(url) would take this run past the "
                    + "\(ByteCount.text(budget.limit)) (\(budget.limit) bytes) it may add to the store "
                    + "(--max-download)",
                hint: "raise --max-download if the repository is really this large")
            return false
        }
        do {
            try partial.write(chunk)
        } catch let error as SmartSyncError {
            failure = error
            return false
        } catch {
            return false
        }
        received += chunk.count
        progress.bytes(chunk.count)
        return true
    }

    /// Empties the partial after a `416` (the kept offset is not satisfiable): the next attempt asks from 0.
    func restart() throws {
        try partial?.restart()
    }

    /// Verifies and publishes the object; throws `.integrity` (and drops the bytes) when it does not hash to its id.
    func finish() throws {
        guard let partial else {
            throw failure ?? SmartSyncError(.network, "the body of blob \(want.id) ('\(want.path)') never arrived")
        }
        self.partial = nil
        try partial.commit()
    }

    /// Stops without finishing: a large object's bytes stay in the store for the next run.
    func suspend() {
        partial?.suspend()
        partial = nil
    }

    /// Drops whatever was written.
    func discard() {
        partial?.discard()
        partial = nil
    }
}
