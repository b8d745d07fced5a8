import CCurl

/// Everything libcurl needs to run one HTTP request (one redirect hop), prepared off the engine's thread.
struct HopRequest {
    var url: RequestURL
    var method: TransferRequest.Method
    /// `Name: Value` lines, already validated (no CR/LF), including `Authorization` only for allowed hosts.
    var headerLines: [String]
    var sink: BodySink
}

/// The per-transfer context of one easy handle: request, response state and the continuation to resume.
///
/// Created by the awaiting task, then handed to the engine's thread through the locked inbox of
/// ``CurlMultiLoop``; from then on only that thread touches it (curl callbacks run there too). It is retained
/// with `Unmanaged.passRetained` while curl holds it (as `CURLOPT_PRIVATE` and callback userdata) and released
/// after `curl_multi_remove_handle` + `curl_easy_cleanup`.
final class EasyTransfer {
    /// Largest non-2xx body kept for error messages.
    static let errorBodyLimit = 64 << 10

    let id: UInt64
    let hop: HopRequest
    var continuation: CheckedContinuation<TransferResponse, any Error>?

    // Owned by the engine thread while the transfer is active.
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    /// curl's `CURLOPT_ERRORBUFFER`; plain memory, freed in deinit (no curl call there).
    let errorBuffer: UnsafeMutablePointer<CChar>

    // Response state, written by the callbacks.
    var status = 0
    var headers = HTTPHeaders()
    var headersComplete = false
    var sinkBegun = false
    var body: [UInt8] = []
    var bytesReceived = 0
    var abort: AbortReason?

    // Pacing (engine thread): the shared rate limiter and stall detection.
    /// The engine's `--limit-rate` bucket, when there is one.
    var limiter: RateLimiter?
    /// Paused by the write callback because the bucket was empty; queued in ``limiter``.
    var pausedByLimiter = false
    /// Size of the chunk curl keeps for us while paused (for the limiter's planning).
    var refusedChunk = 0
    /// Unpaused, but curl has not yet delivered the chunk it kept.
    var awaitingRedelivery = false
    /// When the transfer joined the multi handle, and time spent paused by the limiter (monotonic seconds).
    var startedAt = 0.0
    var pausedSince = 0.0
    var pausedTotal = 0.0
    /// Header and body bytes received on this hop, for stall detection.
    var progressBytes = 0
    var stallWatch: StallWatch?
    /// The minimum-speed check, from the first payload byte on, and the transfer's clock at that byte.
    var minSpeedWatch: StallWatch?
    var payloadSince = 0.0
    /// `progressBytes` when the pacing check last saw it grow, and the transfer's clock then.
    var lastProgress = (clock: 0.0, bytes: 0)
    /// The engine's `--max-download` meter, when there is one.
    var meter: DownloadMeter?

    init(id: UInt64, hop: HopRequest) {
        self.id = id
        self.hop = hop
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        errorBuffer.deallocate()
    }

    var errorText: String { String(cString: errorBuffer) }

    /// Seconds on the multi handle not spent paused by the limiter: the clock stall detection runs on.
    func unpausedElapsed(now: Double) -> Double {
        now - startedAt - pausedTotal - (pausedByLimiter ? now - pausedSince : 0)
    }

    /// The write callback refused a chunk of `count` bytes for want of tokens; curl keeps it until unpaused.
    func pauseForLimiter(chunk count: Int) {
        pausedByLimiter = true
        pausedSince = monotonicSeconds()
        refusedChunk = count
        awaitingRedelivery = true
        limiter?.enqueue(self)
    }

    /// Marks the transfer unpaused, just before `curl_easy_pause` (which may call the write callback, and so pause
    /// it again, before it returns).
    func resumeFromLimiter(now: Double) {
        guard pausedByLimiter else { return }
        pausedByLimiter = false
        pausedTotal += max(0, now - pausedSince)
    }

    /// Body bytes that are payload (see ``TransferSink/payloadBytes``): what the minimum speed is measured on.
    var payloadBytes: Int {
        if case .stream(let sink) = hop.sink, sinkBegun { return sink.payloadBytes ?? bytesReceived }
        return bytesReceived
    }

    /// The host key used for the per-host cap.
    var hostKey: String { hop.url.hostKey }

    /// Resumes the awaiting task exactly once.
    func complete(_ result: Result<TransferResponse, any Error>) {
        guard let continuation else { return }
        self.continuation = nil
        continuation.resume(with: result)
    }

    // MARK: - Callbacks (engine thread)

    /// One header line from curl (status lines, header fields, the blank line ending a block, trailers).
    func receiveHeader(_ raw: UnsafeRawBufferPointer) -> Bool {
        progressBytes += raw.count
        var line = Substring(String(decoding: raw, as: UTF8.self))
        while let last = line.last, last.isNewline { line.removeLast() }  // "\r\n" is one Character
        if line.hasPrefix("HTTP/") {
            // A new response head (after 1xx or, if curl ever followed one, a redirect): start over.
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
            headers = HTTPHeaders()
            headersComplete = false
            return true
        }
        if line.isEmpty {
            headersComplete = true
            guard status >= 200 else { return true }  // 1xx: another head follows
            if case .memory(let limit) = hop.sink, (200..<300).contains(status),
                let length = headers["Content-Length"].flatMap(Int.init), length > 0, length <= limit
            {
                body.reserveCapacity(length)
            }
            return beginSinkIfNeeded()
        }
        guard !headersComplete, let first = line.first, first != " ", first != "\t",
            let colon = line.firstIndex(of: ":")
        else {
            return true  // trailers, obsolete line folding: ignored
        }
        let name = line[..<colon].trimmingSpaces()
        let value = line[line.index(after: colon)...].trimmingSpaces()
        headers.append(HTTPHeader(String(name), String(value)))
        return true
    }

    /// One body chunk from curl. Returns false to abort (curl then fails with `CURLE_WRITE_ERROR`).
    func receiveBody(_ chunk: UnsafeRawBufferPointer) -> Bool {
        if let meter, !meter.admit(chunk.count) {
            abort = .downloadLimit(limit: meter.limit, received: meter.received)
            return false
        }
        bytesReceived += chunk.count
        progressBytes += chunk.count
        guard (200..<300).contains(status) else {
            let room = EasyTransfer.errorBodyLimit - body.count
            if room > 0 { body.append(contentsOf: chunk.prefix(room)) }
            return true
        }
        switch hop.sink {
        case .stream(let sink):
            guard beginSinkIfNeeded() else { return false }
            if chunk.isEmpty { return true }
            if !sink.write(chunk) {
                abort = .sinkRefused
                return false
            }
        case .memory(let limit):
            if body.count + chunk.count > limit {
                abort = .memoryLimit(limit)
                return false
            }
            body.append(contentsOf: chunk)
        }
        return true
    }

    /// Calls `sink.begin` once for a 2xx response streaming into a sink.
    func beginSinkIfNeeded() -> Bool {
        guard case .stream(let sink) = hop.sink, !sinkBegun, (200..<300).contains(status) else { return true }
        sinkBegun = true
        if !sink.begin(status: status, headers: headers) {
            abort = .sinkRefused
            return false
        }
        return true
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}

/// `CURLOPT_HEADERFUNCTION`: no captures; the context comes from `CURLOPT_HEADERDATA`.
let easyHeaderCallback: ss_curl_data_callback = { buffer, size, count, userdata in
    let length = size * count
    guard let buffer, let userdata else { return length }
    let transfer = Unmanaged<EasyTransfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receiveHeader(UnsafeRawBufferPointer(start: buffer, count: length)) ? length : 0
}

/// `CURLOPT_WRITEFUNCTION`: hands curl's own buffer to the sink, no copy per chunk.
///
/// With `--limit-rate`, a chunk the shared bucket cannot pay for pauses the transfer (`CURL_WRITEFUNC_PAUSE`):
/// curl keeps the chunk and delivers it again after the engine loop unpauses the transfer. Nothing of a refused
/// chunk is counted or written.
let easyWriteCallback: ss_curl_data_callback = { buffer, size, count, userdata in
    let length = size * count
    guard let userdata else { return length }
    let transfer = Unmanaged<EasyTransfer>.fromOpaque(userdata).takeUnretainedValue()
    if length > 0, let limiter = transfer.limiter {
        guard limiter.admit(length) else {
            transfer.pauseForLimiter(chunk: length)
            return ss_writefunc_pause()
        }
        transfer.awaitingRedelivery = false
    }
    let chunk = UnsafeRawBufferPointer(start: buffer, count: buffer == nil ? 0 : length)
    return transfer.receiveBody(chunk) ? length : 0
}
