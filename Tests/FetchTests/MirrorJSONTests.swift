import Testing

@testable import SmartSyncFetch

@Suite("Mirror JSON numbers")
struct MirrorJSONTests {
    /// A hostile mirror file's extreme integers are refused, not trapped on (`abs(Int.min)` overflows).
    @Test func integerRefusesExtremes() {
        #expect(MirrorJSON.integer(Int.min) == nil)
        #expect(MirrorJSON.integer(Int.max) == nil)
        #expect(MirrorJSON.integer(-8_999_999_999_999_999) == -8_999_999_999_999_999)
        #expect(MirrorJSON.integer(42) == 42)
        #expect(MirrorJSON.integer(2.5) == nil)
    }
}
