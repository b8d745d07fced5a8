import CCurl
import FoundationEssentials
import SmartSyncCore

/// An absolute `http`/`https` URL as libcurl's URL parser understands it: the same parser the transfer uses, so
/// the host of each request and each redirect hop, which is matched against
/// ``TransferConfiguration/credentialHosts``, is the host curl connects to.
///
/// The configuration's URLs (which hosts get the token, GitHub Enterprise's token host, the default git host of an
/// API URL) are read before libcurl is loaded, by ``URLAuthority``, which accepts only URLs this parser reads the
/// same way (tested against it in `URLAuthorityTests`).
public struct RequestURL: Sendable, Equatable {
    /// The normalized URL string handed to curl (without user:password).
    public let string: String
    /// `http` or `https`, lower-case.
    public let scheme: String
    /// Lower-case `host[:port]`, the port only when it is not the scheme's default. IPv6 hosts keep brackets.
    public let hostKey: String

    /// Parses an absolute URL.
    public init(_ url: String) throws {
        try self.init(parsing: url, relativeTo: nil)
    }

    /// `scheme://host[:port]`, without user information, path, query or fragment.
    public var origin: String { scheme + "://" + hostKey }

    /// Resolves `reference` (a `Location` header value, absolute or relative) against `base`.
    init(resolving reference: String, against base: RequestURL) throws {
        try self.init(parsing: reference, relativeTo: base.string)
    }

    private init(parsing url: String, relativeTo base: String?) throws {
        try CurlLibrary.load()
        guard let handle = curl_url() else {
            throw SmartSyncError(.internal, "libcurl could not allocate a URL handle (out of memory?)")
        }
        defer { curl_url_cleanup(handle) }
        if let base {
            guard curl_url_set(handle, CURLUPART_URL, base, 0) == CURLUE_OK else {
                throw SmartSyncError(.internal, "could not re-parse URL '\(RequestURL.redact(base))'")
            }
        }
        let rc = curl_url_set(handle, CURLUPART_URL, url, 0)
        guard rc == CURLUE_OK else {
            let reason = String(cString: curl_url_strerror(rc))
            throw SmartSyncError(
                .invalidArgument,
                "'\(RequestURL.redact(url))' is not a valid absolute http(s) URL: \(reason)",
                hint: "check the URL")
        }
        let scheme = (RequestURL.part(handle, CURLUPART_SCHEME) ?? "").lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw SmartSyncError(
                .invalidArgument,
                "'\(RequestURL.redact(url))' uses scheme '\(scheme)'; only http:// and https:// URLs are supported")
        }
        // Credentials never travel in URLs: drop any user:password so it cannot reach logs or errors.
        _ = curl_url_set(handle, CURLUPART_USER, nil, 0)
        _ = curl_url_set(handle, CURLUPART_PASSWORD, nil, 0)
        guard let host = RequestURL.part(handle, CURLUPART_HOST)?.lowercased(), !host.isEmpty,
            let full = RequestURL.part(handle, CURLUPART_URL)
        else {
            throw SmartSyncError(.invalidArgument, "'\(RequestURL.redact(url))' has no host", hint: "check the URL")
        }
        let defaultPort = scheme == "https" ? "443" : "80"
        if let port = RequestURL.part(handle, CURLUPART_PORT), port != defaultPort {
            hostKey = "\(host):\(port)"
        } else {
            hostKey = host
        }
        self.scheme = scheme
        self.string = full
    }

    private static func part(_ handle: OpaquePointer, _ what: CURLUPart) -> String? {
        var out: UnsafeMutablePointer<CChar>?
        guard curl_url_get(handle, what, &out, 0) == CURLUE_OK, let out else { return nil }
        defer { curl_free(out) }
        return String(cString: out)
    }

    /// `url` with any `user:password@` removed, for messages.
    static func redact(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + String(rest[rest.index(after: at)...])
    }
}
