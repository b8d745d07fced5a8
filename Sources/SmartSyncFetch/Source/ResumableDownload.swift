import SmartSyncCore
import SmartSyncTransfer

/// A sink that can continue a download where an earlier attempt stopped: what ``ResumableDownload`` drives.
/// ``StoreSink`` (a blob into the store) and ``MirrorPackSpool`` (a mirror's pack file) are the two.
protocol ResumableSink: TransferSink {
    /// The headers for the next attempt at `url`: `Range`/`If-Range` for the bytes still missing, or none.
    func prepare(url: String) throws -> [HTTPHeader]
    /// Body bytes taken over all attempts.
    var received: Int { get }
    /// The last attempt was refused for a reason another attempt may not meet: ask again.
    var askAgain: Bool { get }
    /// Why the sink stopped the last transfer, if it did.
    var failure: SmartSyncError? { get }
    /// Every byte has arrived.
    var isComplete: Bool { get }
    /// The offset the last attempt asked for (0: the whole body).
    var requestedOffset: Int { get }
    /// Drops the kept bytes (after a `416`): the next attempt asks from 0.
    func restart() throws
}

/// One URL downloaded into a ``ResumableSink`` with retries (``RetryPolicy``, jittered backoff), each attempt asking
/// only for the bytes still missing. The raw host's blobs (``GitHubSource``) and a mirror's objects and packs
/// (``MirrorSource``) all go through it.
struct ResumableDownload: Sendable {
    let engine: TransferEngine
    let retryPolicy: RetryPolicy
    /// Told before each retry's wait (counted and announced by the source).
    let onRetry: @Sendable (_ delay: Double, _ reason: String) -> Void
    /// Told of each request sent.
    let onRequest: @Sendable () -> Void
    /// Told of the body bytes each round took and the connections it opened.
    let onReceived: @Sendable (_ bytes: Int, _ newConnections: Int) -> Void

    /// Downloads `url` into `sink`. Starts the object over when the server cannot continue it (`416`, a `206` from the
    /// wrong offset), asks again when a body's `Content-Length` does not fit the object, and asks for the rest when a
    /// `2xx` body ends early. Returns the last response (any status: the caller decides what it means).
    func run(
        _ url: String, headers: [HTTPHeader] = [], authorization: String? = nil, hostKind: String,
        into sink: some ResumableSink
    ) async throws -> TransferResponse {
        let maxRounds = retryPolicy.retries + 2
        var rounds = 0
        while true {
            rounds += 1
            let before = sink.received
            let response: TransferResponse
            do {
                response = try await engine.perform(retrying: retryPolicy, onRetry: onRetry) { _ in
                    let request = TransferRequest(
                        url: url, headers: headers + (try sink.prepare(url: url)), authorization: authorization,
                        sink: .stream(sink), hostKind: hostKind)
                    onRequest()
                    return request
                }
            } catch {
                onReceived(sink.received - before, 0)
                if sink.askAgain, rounds < maxRounds { continue }
                // The sink stopped the transfer (too long, disk full, ...): report its reason, not the abort.
                throw sink.failure ?? error
            }
            // Retried attempts' bodies went into the sink too; error bodies did not.
            let received = (200..<300).contains(response.status) ? sink.received - before : response.bytesReceived
            onReceived(received, response.newConnections)
            if rounds < maxRounds {
                if response.status == 416, sink.requestedOffset > 0 {
                    try sink.restart()  // the kept offset is past the end: not the object we expected; from 0
                    continue
                }
                if (200..<300).contains(response.status), !sink.isComplete, sink.received > before {
                    continue  // the body ended before the object did; ask for the rest
                }
            }
            return response
        }
    }
}
