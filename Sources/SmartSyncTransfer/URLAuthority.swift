import Glibc
import SmartSyncCore

/// The scheme and authority of an absolute `http`/`https` URL, read by a strict parser of our own: no libcurl.
///
/// A run's configuration (which hosts get the token, the default git host, GitHub Enterprise's token host) is
/// decided on the main thread before the scan; libcurl's URL parser would load libcurl there, on the no-op's
/// critical path ("libcurl loaded on demand" in docs/ARCHITECTURE.md). This parser accepts only URLs whose host
/// every reader agrees on, so the host it names is the host curl connects to (``RequestURL``, curl's parser,
/// still reads every URL a request is made for):
///
/// - the scheme `http` or `https` (any case), then `://`;
/// - no user information (`@`) or `%` in the authority, no `\`, space, control or non-ASCII byte anywhere;
/// - a host of letters, digits, `-`, `_` and `.` (not starting or ending with `.`) whose last label is not numeric
///   unless the whole host is a dotted quad of four decimal octets without leading zeros (curl reads `127.1` or
///   `0x7f.0.0.1` as `127.0.0.1`); or a bracketed IPv6 address in the form `inet_ntop` writes it (lower case,
///   compressed), without a zone;
/// - an optional port of 1 to 5 digits, 1…65535, without a leading zero.
public struct URLAuthority: Sendable, Equatable {
    /// `http` or `https`, lower-case.
    public let scheme: String
    /// Lower-case `host[:port]`, the port only when it is not the scheme's default; IPv6 hosts keep brackets.
    public let hostKey: String

    /// `scheme://host[:port]`.
    public var origin: String { scheme + "://" + hostKey }

    /// The ``hostKey`` of `url`; nil when this parser refuses it.
    public static func hostKey(of url: String) -> String? { (try? URLAuthority(url))?.hostKey }

    /// Parses `url`'s scheme and authority.
    ///
    /// - Throws: `SmartSyncError(.invalidArgument)` naming what is wrong; the URL is quoted only when it holds no
    ///   user information.
    public init(_ url: String) throws {
        let bytes = Array(url.utf8)
        func refuse(_ why: String, hint: String = "check the URL") -> SmartSyncError {
            let shown = bytes.contains(UInt8(ascii: "@")) ? "the URL" : "'\(url)'"
            return SmartSyncError(.invalidArgument, "\(shown) is not a valid absolute http(s) URL: \(why)", hint: hint)
        }
        if let badIndex = bytes.firstIndex(where: { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\\") }) {
            let bad = bytes[badIndex]
            let why = bad == 0x20 ? "it contains a space" : "it contains byte 0x\(String(bad, radix: 16))"
            if bad == UInt8(ascii: "\\") { throw refuse(why, hint: "write '/' for a path separator") }
            guard Self.isInPath(badIndex, of: bytes) else {
                throw refuse(
                    why,
                    hint: bad >= 0x80
                        ? "write a non-ASCII host in punycode (xn--…, e.g. with 'idn2')" : "check the host")
            }
            throw refuse(why, hint: "percent-encode it in the path, query or fragment (a space as %20)")
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
            bytes[colon...].starts(with: Array("://".utf8))
        else { throw refuse("no scheme:// at its start") }
        let scheme = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw refuse("scheme '\(scheme.prefix(32))'; only http:// and https:// URLs are supported")
        }
        let start = colon + 3
        let end =
            bytes[start...].firstIndex(where: {
                $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?")
                    || $0 == UInt8(ascii: "#")
            }) ?? bytes.endIndex
        let authority = bytes[start..<end]
        guard !authority.contains(UInt8(ascii: "@")) else {
            throw refuse("it carries user information (user:password@)")
        }
        guard !authority.contains(UInt8(ascii: "%")) else { throw refuse("a percent-encoded host or port") }
        let host: ArraySlice<UInt8>
        let portText: ArraySlice<UInt8>?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { throw refuse("an unclosed '['") }
            host = authority[...close]
            let rest = authority[(close + 1)...]
            guard rest.isEmpty || rest.first == UInt8(ascii: ":") else { throw refuse("bytes after the IPv6 host") }
            portText = rest.isEmpty ? nil : rest.dropFirst()
            guard Self.isCanonicalIPv6(host.dropFirst().dropLast()) else {
                throw refuse(
                    "the IPv6 host is not in canonical form (lower case, compressed, no zone)",
                    hint: "write it as inet_ntop does, e.g. [2001:db8::1]")
            }
        } else {
            let colon = authority.firstIndex(of: UInt8(ascii: ":"))
            host = authority[..<(colon ?? authority.endIndex)]
            portText = colon.map { authority[($0 + 1)...] }
            if host.last == UInt8(ascii: "."), host.count > 1 {
                throw refuse("the host ends with '.'", hint: "remove the trailing '.'")
            }
            if let portText, portText.contains(UInt8(ascii: ":")) {
                throw refuse(
                    "more than one ':' in the authority", hint: "write an IPv6 host in brackets: [2001:db8::1]")
            }
            guard Self.isPlainHost(host) else {
                throw refuse(
                    "the host is empty or not a plain name or IPv4 address",
                    hint: "write a name, a dotted-quad IPv4 address (127.0.0.1) or a bracketed IPv6 address")
            }
        }
        var key = String(decoding: host, as: UTF8.self).lowercased()
        if let portText {
            if portText.count > 1, portText.first == UInt8(ascii: "0") {
                throw refuse("the port has a leading zero", hint: "write the port without leading zeros")
            }
            guard let port = Self.port(portText) else {
                throw refuse("the port is not a number 1…65535", hint: "write the port as a number 1…65535")
            }
            if port != (scheme == "https" ? 443 : 80) { key += ":\(port)" }
        }
        self.scheme = scheme
        self.hostKey = key
    }

    /// True when `index` lies after the authority (in the path, query or fragment) of a URL with `://`.
    private static func isInPath(_ index: Int, of bytes: [UInt8]) -> Bool {
        let separator = Array("://".utf8)
        guard let start = (0...max(0, bytes.count - 3)).first(where: { bytes[$0...].starts(with: separator) })
        else { return false }
        let authorityStart = start + 3
        guard
            let end = bytes[authorityStart...].firstIndex(where: {
                $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#")
            })
        else { return false }
        return index > end
    }

    /// A registered name of letters, digits, `-`, `_` and `.`, or a canonical dotted quad.
    private static func isPlainHost(_ host: ArraySlice<UInt8>) -> Bool {
        guard !host.isEmpty, host.first != UInt8(ascii: "."), host.last != UInt8(ascii: ".") else { return false }
        let allowed = host.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "-")
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
        guard allowed else { return false }
        let labels = host.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.allSatisfy({ !$0.isEmpty }), let last = labels.last, let first = last.first else { return false }
        // A numeric last label makes curl read the host as an IPv4 address in one of its many forms.
        guard first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") else { return true }
        return labels.count == 4
            && labels.allSatisfy { label in
                label.count <= 3 && label.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
                    && (label.count == 1 || label.first != UInt8(ascii: "0"))
                    && (Int(String(decoding: label, as: UTF8.self)) ?? 256) <= 255
            }
    }

    /// True when `text` is an IPv6 address exactly as `inet_ntop` writes it.
    private static func isCanonicalIPv6(_ text: ArraySlice<UInt8>) -> Bool {
        guard !text.isEmpty, text.count < 46 else { return false }
        var address = in6_addr()
        let parsed = String(decoding: text, as: UTF8.self)
        guard inet_pton(AF_INET6, parsed, &address) == 1 else { return false }
        var buffer = [CChar](repeating: 0, count: 64)
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return false }
        return String(cString: buffer) == parsed
    }

    /// 1…65535 written without a leading zero.
    private static func port(_ text: ArraySlice<UInt8>) -> Int? {
        guard (1...5).contains(text.count), text.first != UInt8(ascii: "0"),
            text.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let port = Int(String(decoding: text, as: UTF8.self)), port <= 65535
        else { return nil }
        return port
    }
}
