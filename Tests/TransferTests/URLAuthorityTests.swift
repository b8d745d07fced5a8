import SmartSyncCore
import SmartSyncTransfer
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
        #expect(URLAuthority.hostKey(of: url) == nil)
    }

    @Test func aRefusalNeverQuotesCredentials() throws {
        let error = try #require(throws: SmartSyncError.self) { try URLAuthority("https://me:hunter2@example.com") }
        #expect(!error.message.contains("hunter2"))
        #expect(error.code == .invalidArgument)
        let space = try #require(throws: SmartSyncError.self) { try URLAuthority("https://example.com/a b") }
        #expect(space.message.contains("space"))
    }
}
