import CCurl
import SmartSyncCore

/// A libcurl result code, kept as the ``SmartSyncError/cause`` of transfer errors.
public struct CurlCode: Error, Sendable, CustomStringConvertible, Equatable {
    /// The raw `CURLcode` value.
    public var rawValue: Int
    /// libcurl's description of the code (`curl_easy_strerror`).
    public var description: String

    init(_ code: CURLcode) {
        rawValue = Int(code.rawValue)
        description = "CURLcode \(code.rawValue): " + String(cString: curl_easy_strerror(code))
    }
}

/// Why the engine itself stopped a transfer (curl then reports `CURLE_WRITE_ERROR` or similar).
enum AbortReason: Sendable, Equatable {
    /// A ``TransferSink`` returned false.
    case sinkRefused
    /// A `.memory(limit:)` body grew past its limit.
    case memoryLimit(Int)
    /// The awaiting task was cancelled.
    case taskCancelled
    /// ``TransferEngine/shutdown()`` ran.
    case shutdown
    /// Fewer than `speed` bytes per second arrived for `seconds` seconds (not counting time paused by
    /// `--limit-rate`); `received` bytes had arrived in all.
    case stalled(speed: Int, seconds: Double, received: Int)
    /// Once the payload flowed, fewer than `speed` bytes per second of it arrived over `seconds` seconds
    /// (`--min-speed`); `received` body bytes had arrived in all.
    case tooSlow(speed: Int, seconds: Double, received: Int)
    /// The request ran longer than `seconds` on its own clock (`--request-timeout`).
    case deadline(seconds: Double, received: Int)
    /// The engine's body bytes would go past `limit` (`--max-download`); `received` of them had arrived.
    case downloadLimit(limit: Int, received: Int)
}

extension SmartSyncError {
    /// Maps a failed transfer to the error the user sees.
    ///
    /// - Parameters:
    ///   - code: curl's result.
    ///   - url: the URL of the failing hop (already without user:password).
    ///   - detail: curl's `CURLOPT_ERRORBUFFER` text, often more precise than the generic code description.
    ///   - abort: set when the engine stopped the transfer on purpose.
    static func transfer(code: CURLcode, url: String, detail: String, abort: AbortReason?) -> SmartSyncError {
        let cause = CurlCode(code)
        let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        if let abort {
            return SmartSyncError.aborted(abort, url: url, cause: cause)
        }
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return SmartSyncError(
                .network, "could not resolve the host of \(url): \(reason)", hint: "check the URL and your DNS/network",
                cause: cause)
        case CURLE_COULDNT_CONNECT:
            return SmartSyncError(
                .network,
                "could not connect to \(url): \(reason)",
                hint: "check that the server is up and reachable (proxy, firewall)", cause: cause)
        case CURLE_OPERATION_TIMEDOUT:
            return SmartSyncError(
                .network, "timed out talking to \(url): \(reason); the network or server is slow or down",
                hint: "retry later",
                cause: cause)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR:
            return SmartSyncError(
                .tls,
                "certificate verification failed for \(url): \(reason)",
                hint: "if the server uses a private CA, pass it with --cacert FILE", cause: cause)
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_USE_SSL_FAILED,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_CLIENTCERT:
            return SmartSyncError(
                .tls,
                "TLS handshake with \(url) failed: \(reason)",
                hint: "check that the URL really serves HTTPS; if the server uses a private "
                    + "CA, pass it with --cacert FILE",
                cause: cause)
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return SmartSyncError(
                .invalidArgument, "cannot fetch \(url): \(reason)", hint: "check the URL", cause: cause)
        case CURLE_WEIRD_SERVER_REPLY, CURLE_BAD_CONTENT_ENCODING, CURLE_FILESIZE_EXCEEDED:
            return SmartSyncError(
                .malformedResponse, "the server at \(url) sent a malformed response: \(reason).", cause: cause)
        case CURLE_OUT_OF_MEMORY, CURLE_FAILED_INIT, CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION:
            return SmartSyncError(
                .internal, "libcurl failed internally fetching \(url): \(reason)", hint: "please report this bug",
                cause: cause)
        case CURLE_ABORTED_BY_CALLBACK, CURLE_WRITE_ERROR:
            return SmartSyncError(
                .cancelled, "the transfer of \(url) was stopped by its receiver: \(reason).", cause: cause)
        default:
            // SEND/RECV errors, GOT_NOTHING, PARTIAL_FILE, HTTP2, HTTP2_STREAM and anything else network-shaped.
            return SmartSyncError(
                .network, "the transfer of \(url) failed: \(reason); the connection broke off", hint: "retry later",
                cause: cause)
        }
    }

    static func aborted(_ abort: AbortReason, url: String, cause: CurlCode? = nil) -> SmartSyncError {
        switch abort {
        case .sinkRefused:
            return SmartSyncError(.cancelled, "the receiver of \(url) stopped the transfer.", cause: cause)
        case .memoryLimit(let limit):
            return SmartSyncError(
                .malformedResponse,
                "the response body of \(url) is larger than the \(limit)-byte limit for in-memory responses",
                cause: cause)
        case .taskCancelled:
            return SmartSyncError(.cancelled, "the transfer of \(url) was cancelled.", cause: cause)
        case .shutdown:
            return SmartSyncError(
                .cancelled, "the transfer of \(url) was cancelled because the transfer engine shut down",
                cause: cause)
        case .stalled(let speed, let seconds, let received):
            let window = seconds.secondsText
            return SmartSyncError(
                .network,
                "the transfer of \(url) stalled: less than \(speed) byte\(speed == 1 ? "" : "s")/s for \(window) s "
                    + "(\(received) bytes received); the server or network stopped sending",
                hint: "a retry may help; if the link is just slow, raise --stall-timeout", cause: cause)
        case .tooSlow(let speed, let seconds, let received):
            return SmartSyncError(
                .network,
                "the transfer of \(url) was too slow: less than the --min-speed of \(ByteCount.text(speed))/s over "
                    + "\(seconds.secondsText) s once data flowed (\(received) bytes received)",
                hint: "the server or network is throttled, or the server drips on purpose (a retry may help); if the "
                    + "link is just slow, lower --min-speed or --jobs, or raise --stall-timeout",
                cause: cause)
        case .deadline(let seconds, let received):
            return SmartSyncError(
                .limitExceeded,
                "the request to \(url) took longer than the --request-timeout of \(seconds.secondsText) s "
                    + "(\(received) bytes received) and was stopped",
                hint: "a server that keeps a request open without finishing it is broken or hostile; if the link is "
                    + "just slow for this download, raise --request-timeout",
                cause: cause)
        case .downloadLimit(let limit, let received):
            return SmartSyncError(
                .limitExceeded,
                "the download from \(url) was stopped: this run has received \(received) bytes, and more would go past "
                    + "the --max-download limit of \(ByteCount.text(limit)) (\(limit) bytes)",
                hint: "a server that sends far more than the repository holds is broken or hostile; if the repository "
                    + "is really this large, raise --max-download",
                cause: cause)
        }
    }
}

extension Double {
    /// `30`, `2.5`: seconds as a person writes them.
    fileprivate var secondsText: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}
