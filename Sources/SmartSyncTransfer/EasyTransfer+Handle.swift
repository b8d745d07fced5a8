import CCurl
import SmartSyncCore

/// Engine-wide easy-handle settings derived from ``TransferConfiguration``.
struct EasySettings: Sendable {
    var connectTimeoutMilliseconds: Int
    var userAgent: String
    var http2: Bool
    /// The roots handshakes are verified against (system roots + `--cacert`).
    var trust: TrustStore
}

extension EasyTransfer {
    /// Creates and configures the easy handle. Engine thread only.
    ///
    /// On success `easy` is set and `CURLOPT_PRIVATE`/userdata point at `retainedSelf` (the caller retained it).
    func makeHandle(settings: EasySettings, retainedSelf: UnsafeMutableRawPointer) -> SmartSyncError? {
        guard let easy = curl_easy_init() else {
            return SmartSyncError(.internal, "libcurl could not create a transfer handle for \(hop.url.string)")
        }
        self.easy = easy
        var failure: (String, CURLcode)?
        func check(_ name: String, _ code: CURLcode) {
            if code != CURLE_OK, failure == nil { failure = (name, code) }
        }
        check("URL", ss_easy_setopt_string(easy, CURLOPT_URL, hop.url.string))
        check("PRIVATE", ss_easy_setopt_pointer(easy, CURLOPT_PRIVATE, retainedSelf))
        check("ERRORBUFFER", ss_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)))
        check("WRITEFUNCTION", ss_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, easyWriteCallback))
        check("WRITEDATA", ss_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, retainedSelf))
        check("HEADERFUNCTION", ss_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, easyHeaderCallback))
        check("HEADERDATA", ss_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, retainedSelf))
        check("NOSIGNAL", ss_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        check("NOPROGRESS", ss_easy_setopt_long(easy, CURLOPT_NOPROGRESS, 1))
        check("PROTOCOLS_STR", ss_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        // Redirects are followed by the engine, hop by hop, so credentials are re-decided for every host.
        check("FOLLOWLOCATION", ss_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        check("UNRESTRICTED_AUTH", ss_easy_setopt_long(easy, CURLOPT_UNRESTRICTED_AUTH, 0))
        check(
            "CONNECTTIMEOUT_MS",
            ss_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMilliseconds))
        check("TCP_KEEPALIVE", ss_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        // Wait for an existing (or connecting) connection to learn whether it multiplexes before opening another.
        // Only HTTPS can multiplex (HTTP/2 via ALPN); cleartext HTTP/1.1 gains nothing from waiting.
        if settings.http2, hop.url.scheme == "https" {
            check("PIPEWAIT", ss_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1))
        }
        let version = settings.http2 ? Int(CURL_HTTP_VERSION_2TLS) : Int(CURL_HTTP_VERSION_1_1)
        check("HTTP_VERSION", ss_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, version))
        // TLS verification is never optional.
        check("SSL_VERIFYPEER", ss_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1))
        check("SSL_VERIFYHOST", ss_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2))
        switch settings.trust {
        case .hashedDirectory(let directory, let extraFile):
            // No bundle (NULL clears curl's built-in one): the directory's roots are read as a chain needs them.
            check("CAINFO", ss_easy_setopt_string(easy, CURLOPT_CAINFO, extraFile))
            check("CAPATH", ss_easy_setopt_string(easy, CURLOPT_CAPATH, directory))
        case .bundle(let bundle):
            check(
                "CAINFO_BLOB",
                bundle.pem.withUnsafeBytes {
                    ss_easy_setopt_blob_copy(easy, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count)
                })
        case .curlDefault:
            break
        }
        check("USERAGENT", ss_easy_setopt_string(easy, CURLOPT_USERAGENT, settings.userAgent))
        // No CURLOPT_ACCEPT_ENCODING: bodies arrive as stored, so hashes and Range offsets are of the real bytes.
        switch hop.method {
        case .get:
            check("HTTPGET", ss_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case .head:
            check("NOBODY", ss_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
        case .post(let body):
            check("POST", ss_easy_setopt_long(easy, CURLOPT_POST, 1))
            check("POSTFIELDSIZE_LARGE", ss_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            if body.isEmpty {
                check("COPYPOSTFIELDS", ss_easy_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, ""))
            } else {
                check(
                    "COPYPOSTFIELDS",
                    body.withUnsafeBytes {
                        ss_easy_setopt_pointer(
                            easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress))
                    })
            }
        }
        var lines = hop.headerLines
        if case .post = hop.method { lines.append("Expect:") }  // no 100-continue round trip
        for line in lines {
            guard let appended = curl_slist_append(headerList, line) else {
                failure = failure ?? ("HTTPHEADER", CURLE_OUT_OF_MEMORY)
                break
            }
            headerList = appended
        }
        if let headerList { check("HTTPHEADER", ss_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList)) }
        if let (name, code) = failure {
            return SmartSyncError(
                .internal, "libcurl rejected option CURLOPT_\(name) for \(hop.url.string)",
                hint: "please report this bug",
                cause: CurlCode(code))
        }
        return nil
    }

    /// Frees the easy handle and header list. Engine thread only, after `curl_multi_remove_handle`.
    func cleanupHandle() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
    }

    /// The response of a transfer curl reported done with `CURLE_OK`.
    func response() -> TransferResponse {
        var code = 0
        var version = 0
        var connects = 0
        var totalMicroseconds: curl_off_t = 0
        var effective: UnsafeMutablePointer<CChar>?
        if let easy {
            _ = ss_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
            _ = ss_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
            _ = ss_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
            _ = ss_easy_getinfo_off(easy, CURLINFO_TOTAL_TIME_T, &totalMicroseconds)
            _ = ss_easy_getinfo_string(easy, CURLINFO_EFFECTIVE_URL, &effective)
        }
        let httpVersion: Int
        switch version {
        case Int(CURL_HTTP_VERSION_2_0): httpVersion = 2
        case Int(CURL_HTTP_VERSION_3): httpVersion = 3
        default: httpVersion = 1
        }
        return TransferResponse(
            status: code != 0 ? code : status,
            headers: headers,
            body: body,
            bytesReceived: bytesReceived,
            effectiveURL: effective.map { String(cString: $0) } ?? hop.url.string,
            httpVersion: httpVersion,
            newConnections: connects,
            totalTime: Double(totalMicroseconds) / 1_000_000)
    }
}
