import Testing

@testable import SmartSyncFetch

@Suite("Validator cache")
struct ValidatorCacheTests {
    /// smart-sync 0.1.0 (Foundation's `replacingOccurrences`, per UTF-16 unit) wrote every line feed of a key as a
    /// space, the one of a CRLF too, which Swift's String treats as one Character.
    @Test func legacyKeyReplacesEveryLineFeed() {
        #expect(ValidatorCache.legacyKey("a\r\nb") == "a\r b")
        #expect(ValidatorCache.legacyKey("a\nb\n") == "a b ")
        #expect(ValidatorCache.legacyKey("é\u{301}") == "é\u{301}")
    }
}
