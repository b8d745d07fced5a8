import Logging
import SmartSyncCore

/// One HTTP request for the ``TransferEngine``.
public struct TransferRequest: Sendable {
    /// The HTTP method.
    public enum Method: Sendable, Equatable {
        case get
        case head
        case post(body: [UInt8])
    }

    /// Absolute `http://` or `https://` URL, already percent-encoded.
    public var url: String
    public var method: Method
    /// Extra request headers (no `Authorization`: use ``authorization``).
    public var headers: [HTTPHeader]
    /// A credential header value (`"Bearer …"`). Sent only when the URL's host (and every redirect target's
    /// host) is in the engine's ``TransferConfiguration/credentialHosts``. Never logged.
    public var authorization: String?
    /// Where the body of a 2xx response goes. Non-2xx bodies are always buffered (up to 64 KiB) into
    /// ``TransferResponse/body`` so errors can quote them.
    public var sink: BodySink
    /// Follow 3xx redirects (up to 5).
    public var followRedirects: Bool
    /// What the host is to the caller (`api`, `raw`, `git`, `mirror`), shown as `kind` in the engine's log of the
    /// request; nil: the log shows none.
    public var hostKind: String?
    /// Which attempt of a retried request this is (0: the first), for the log; set by
    /// ``TransferEngine/perform(retrying:retryable:onRetry:_:)``, and by a caller that retries on its own.
    public var attempt = 0

    public init(
        url: String,
        method: Method = .get,
        headers: [HTTPHeader] = [],
        authorization: String? = nil,
        sink: BodySink = .memory(limit: 64 << 20),
        followRedirects: Bool = true,
        hostKind: String? = nil
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.authorization = authorization
        self.sink = sink
        self.followRedirects = followRedirects
        self.hostKind = hostKind
    }
}

/// Where a response body goes.
public enum BodySink: Sendable {
    /// Buffer in memory; more than `limit` bytes fails the transfer.
    case memory(limit: Int)
    /// Stream into a caller-provided sink on the engine's thread.
    case stream(any TransferSink)
}

/// Receives a 2xx response body on the engine's thread, chunk by chunk, in order.
///
/// Implementations hash and `pwrite` inside ``write(_:)``: no per-chunk allocation. They are called from one
/// thread at a time, never concurrently.
public protocol TransferSink: AnyObject, Sendable {
    /// Called once the final response head is known, before any body byte; `status` is 2xx.
    /// Return false to abort the transfer (it then fails with code `.cancelled`).
    func begin(status: Int, headers: HTTPHeaders) -> Bool
    /// Called for each body chunk. Return false to abort the transfer.
    func write(_ chunk: UnsafeRawBufferPointer) -> Bool
    /// The body bytes so far that are the payload proper, for ``TransferConfiguration/minSpeed``, which applies
    /// from the first payload byte on; nil (the default): every body byte. Read on the engine's thread, between
    /// calls to ``write(_:)``. A body that opens with keep-alives (git's empty side-band packets while the server
    /// prepares a pack) counts only what follows them, so a server that thinks before it sends is held to the
    /// stall check, not to the minimum speed.
    var payloadBytes: Int? { get }
}

extension TransferSink {
    public var payloadBytes: Int? { nil }
}

/// One header line.
public struct HTTPHeader: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Response headers, looked up case-insensitively.
public struct HTTPHeaders: Sendable, Hashable, Sequence {
    public private(set) var entries: [HTTPHeader]

    public init(_ entries: [HTTPHeader] = []) { self.entries = entries }

    /// The first value of `name`, compared case-insensitively.
    public subscript(_ name: String) -> String? {
        let lower = name.lowercased()
        return entries.first { $0.name.lowercased() == lower }?.value
    }

    public mutating func append(_ header: HTTPHeader) { entries.append(header) }

    public func makeIterator() -> IndexingIterator<[HTTPHeader]> { entries.makeIterator() }
}

/// The outcome of a completed transfer (any HTTP status: callers decide what a status means).
public struct TransferResponse: Sendable {
    /// The final HTTP status (after redirects).
    public var status: Int
    /// The final response's headers.
    public var headers: HTTPHeaders
    /// The body when the sink was `.memory`, or the (truncated) body of a non-2xx response.
    public var body: [UInt8]
    /// Body bytes received (after content decoding).
    public var bytesReceived: Int
    /// The URL after redirects.
    public var effectiveURL: String
    /// 1 for HTTP/1.x, 2 for HTTP/2.
    public var httpVersion: Int
    /// New connections this transfer opened (0 when it reused or multiplexed onto an existing one).
    public var newConnections: Int
    /// Wall time from start to the last byte, in seconds.
    public var totalTime: Double
    /// What the engine did when this answer throttled its host (see ``HostBackoffPolicy``), for the log.
    var hostThrottle: HostThrottle?

    public init(
        status: Int, headers: HTTPHeaders, body: [UInt8], bytesReceived: Int, effectiveURL: String,
        httpVersion: Int, newConnections: Int, totalTime: Double
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bytesReceived = bytesReceived
        self.effectiveURL = effectiveURL
        self.httpVersion = httpVersion
        self.newConnections = newConnections
        self.totalTime = totalTime
    }
}

/// Engine-wide settings.
public struct TransferConfiguration: Sendable {
    /// Most transfers in flight at once, over all hosts (`--jobs`).
    public var maxConcurrent: Int = 16
    /// Most transfers in flight at once to one host.
    public var maxPerHost: Int = 16
    /// A PEM file of extra CA certificates trusted in addition to the system's (`--cacert`).
    public var extraCAFile: String?
    /// A hashed certificate directory to trust instead of the system's (``TrustStore``; tests name their own); nil:
    /// libcurl's default directory where it holds every root of the default bundle.
    var caDirectory: String?
    /// Hosts (lower-case, with `:port` when not the scheme default) that may receive ``TransferRequest/authorization``.
    public var credentialHosts: Set<String> = []
    /// Seconds allowed to connect (TCP + TLS).
    public var connectTimeout: Double = 30
    /// `User-Agent` header.
    public var userAgent: String = "smart-sync/0.1"
    /// Offer HTTP/2 (ALPN over TLS; prior knowledge is never assumed for cleartext).
    public var http2: Bool = true
    /// One byte budget per second shared by all transfers (`--limit-rate`); nil: unlimited. An active
    /// transfer may use what idle ones leave.
    public var limitRate: Int?
    /// A transfer slower than ``stallSpeed`` bytes per second for this many seconds is cancelled with a
    /// `.network` error (retryable), so a stalled connection is re-issued instead of hanging the run. Also the
    /// window of ``minSpeed``.
    public var stallTimeout: Double = 30
    /// See ``stallTimeout``.
    public var stallSpeed: Int = 1
    /// Once a transfer's payload flows (``TransferSink/payloadBytes``), fewer than this many bytes per second over
    /// the last ``stallTimeout`` seconds fail it with a retryable `.network` error (`--min-speed`), so a server that
    /// drips cannot hold a run. Measured on the transfer's own clock, like the stall check (time paused by the
    /// ``limitRate`` limiter does not count). 0: off.
    public var minSpeed: Int = 1024
    /// The longest a request (each redirect hop) may take on its own clock (time paused by the limiter not counted)
    /// before it fails with `.limitExceeded` (`--request-timeout`); infinity: no limit.
    public var requestTimeout: Double = 3600
    /// The most body bytes the engine receives over its life, all transfers together (`--max-download`); a transfer
    /// that would go past it fails with `.limitExceeded`, and so does every later one. nil: no limit.
    public var maxDownload: Int?
    /// How a host that answers `429`, `503` (or `403` with `Retry-After`) is slowed as a whole: every new request to
    /// it waits, and fewer run at once (``HostBackoffPolicy``).
    public var hostBackoff = HostBackoffPolicy()
    /// The most requests that start per second to one host (`--max-rate-per-host`), bursts of up to one second's
    /// worth; nil: no cap. Redirect hops and retries count.
    public var maxRequestsPerHost: Double?
    /// Where the engine logs each request (method, URL without credentials, status, bytes, time) at `.debug`, and each
    /// retry. Logged by the awaiting task once a hop is done, never on the engine's thread. Default: no log.
    public var logger: Logger = .disabled

    public init() {}
}

/// Counters over the engine's lifetime.
public struct TransferStatistics: Sendable, Equatable {
    public var requests: Int = 0
    public var bytesReceived: Int = 0
    public var newConnections: Int = 0
    /// Answers that slowed their host down (see ``HostBackoffPolicy``).
    public var hostThrottles: Int = 0
    public init() {}
}
