import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

/// The strict URL parser the configuration uses instead of curl's: it must name the host curl connects to whenever
/// it accepts a URL, and refuse what could be read two ways.
@Suite("URLAuthority, the configuration's URL parser without libcurl")
struct URLAuthorityTests {
    @Test(arguments: [
        ("https://api.github.com", "https", "api.github.com"),
        ("HTTPS://API.GitHub.com/", "https", "api.github.com"),
        ("https://ghe.example.com:8443/api/v3?x=1#y", "https", "ghe.example.com:8443"),
        ("https://ghe.example.com:443/api/v3", "https", "ghe.example.com"),
        ("http://127.0.0.1:80/", "http", "127.0.0.1"),
        ("http://127.0.0.1:8080", "http", "127.0.0.1:8080"),
        ("http://localhost:1/a%20b", "http", "localhost:1"),
        ("https://[::1]:9443/x", "https", "[::1]:9443"),
        ("https://[2001:db8::7]", "https", "[2001:db8::7]"),
        ("https://my_host-1.example", "https", "my_host-1.example"),
        ("https://host?q", "https", "host"),
        ("https://host#f", "https", "host"),
        ("https://good?@evil", "https", "good"),
        ("https://good#@evil", "https", "good"),
        ("https://good/@evil", "https", "good"),
        ("https://[::ffff:1.2.3.4]/", "https", "[::ffff:1.2.3.4]"),
        ("https://[::1.2.3.4]/", "https", "[::1.2.3.4]"),
        ("https://-/", "https", "-"),
        ("https://_/", "https", "_"),
        ("https://h:65535/", "https", "h:65535"),
        ("http://h:443", "http", "h:443"),
    ])
    func acceptsAndAgreesWithCurl(url: String, scheme: String, hostKey: String) throws {
        let parsed = try URLAuthority(url)
        #expect(parsed.scheme == scheme)
        #expect(parsed.hostKey == hostKey)
        #expect(parsed.origin == "\(scheme)://\(hostKey)")
        // curl's own parser (the one a request goes through) reads the same host.
        let curl = try RequestURL(url)
        #expect(curl.hostKey == parsed.hostKey, "\(url)")
        #expect(curl.scheme == parsed.scheme)
        #expect(URLAuthority.hostKey(of: url) == hostKey)
    }

    @Test(arguments: [
        "ftp://example.com/", "file:///etc/passwd", "gopher://x", "example.com", "//example.com", "https:/x",
        "https://", "https:///path", "https://user:secret@example.com/", "https://user@example.com",
        "https://evil.example@github.com", "https://exa mple.com/", "https://example.com/a b",
        "https://example.com\t/", "https://example.com/\n", "https://exa\u{7F}mple.com", "https://ex\u{E9}mple.com",
        "https://example.com\\@evil.com/", "https://%65xample.com/", "https://example.com:/", "https://example.com:0",
        "https://example.com:65536", "https://example.com:0443", "https://example.com:44a", "https://example.com.",
        "https://.example.com", "https://a..b", "https://127.1/", "https://0x7f.0.0.1/", "https://2130706433/",
        "https://127.000.0.1/", "https://256.0.0.1/", "https://1.2.3.4.5/", "https://host.123/", "https://[::1",
        "https://[::0001]/", "https://[::1%25eth0]/", "https://[::1]x/", "https://[FE80::1]/", "https://a:1:2/",
    ])
    func refusesWhatCouldBeReadTwoWays(url: String) {
        #expect(throws: SmartSyncError.self, "\(url)") { try URLAuthority(url) }
    }

    @Test func aRefusalNeverQuotesCredentials() throws {
        let error = try #require(throws: SmartSyncError.self) { try URLAuthority("https://me:hunter2@example.com") }
        #expect(!error.message.contains("hunter2"))
        #expect(error.code == .invalidArgument)
        let space = try #require(throws: SmartSyncError.self) { try URLAuthority("https://example.com/a b") }
        #expect(space.message.contains("space"))
    }

    @Test(arguments: [
        ("https://example.com./", "remove the trailing '.'"),
        ("https://b\u{FC}cher.example/", "punycode (xn--"),
        ("https://example.com/b\u{FC}cher", "percent-encode"),
        ("https://example.com/a b", "percent-encode"),
        ("https://example.com?q=a b", "percent-encode"),
        ("https://2001:db8::1/", "[2001:db8::1]"),
        ("https://[2001:DB8::1]/", "[2001:db8::1]"),
        ("https://example.com:0443/", "without leading zeros"),
        ("https://example.com\\evil/", "'/'"),
    ])
    func aRefusalSaysHowToWriteTheURL(url: String, hint: String) throws {
        let error = try #require(throws: SmartSyncError.self) { try URLAuthority(url) }
        #expect(error.hint?.contains(hint) == true, "\(url): \(error.text)")
    }

    /// A few thousand URLs built from the characters that separate or reinterpret an authority, numeric host forms
    /// and malformed scheme separators: whatever URLAuthority accepts, curl's parser must read with the same scheme
    /// and host. Seeded, so a failure names a URL that fails again.
    @Test func everyAcceptedGeneratedURLReadsTheSameInCurl() throws {
        var random = SplitMix64(seed: 0x5EED_0F_0A_17_4012)
        let schemes = ["http", "https", "HTTP", "HTTPS", "HtTpS", "hTTp", "ftp", "https:", "http+s"]
        let separators = ["://", "://", "://", "://", ":/", ":///", ":", "//"]
        let pieces = [
            "@", "?", "#", "/", ":", ";", "[", "]", "%", "%40", "%2e", ".", "-", "_", "good", "evil", "a", "Z",
            "example.com", "127.0.0.1", "127.1", "0x7f", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "1.2.3.4",
            "01.2.3.4", "1.2.3", "256.1.1.1", "0", "00", "1", "443", "80", "65535", "65536", "08080", "8080",
            "[::1]", "[::ffff:1.2.3.4]", "[::ffff:0102:0304]", "[::1.2.3.4]", "[2001:db8::1]", "[2001:DB8::1]",
            "[::1%25lo]", "[0:0:0:0:0:0:0:1]", "::", "xn--bcher-kva", "host", "user:pw@", "h.",
        ]
        var accepted = 0
        for _ in 0..<6000 {
            var url = schemes[random.below(schemes.count)] + separators[random.below(separators.count)]
            for _ in 0..<(1 + random.below(5)) { url += pieces[random.below(pieces.count)] }
            if random.below(3) == 0 { url += ["/", "?q", "#f", "/p@q", ":443/", ":80"][random.below(6)] }
            guard let ours = try? URLAuthority(url) else { continue }
            accepted += 1
            let curl = try #require(try? RequestURL(url), "curl refuses \(url), which URLAuthority accepts")
            #expect(curl.scheme == ours.scheme, "\(url)")
            #expect(curl.hostKey == ours.hostKey, "\(url)")
        }
        // Enough accepted URLs that the comparison means something.
        #expect(accepted > 150, "only \(accepted) generated URLs accepted")
    }
}
