import FoundationEssentials
import Glibc
import Testing

@testable import SmartSyncTransfer

/// `HTTPDate`'s RFC 850 form and its two-digit year, read as RFC 9110 §5.6.7 says: a date that would be more than 50
/// years in the future is the most recent year in the past with the same last two digits.
@Suite("HTTPDate")
struct HTTPDateTests {
    /// 2026-12-08 01:00:00 UTC.
    private static let now = Date(timeIntervalSince1970: 1_796_691_600)

    /// The UTC year of the date `text` names.
    private static func year(_ text: String, now: Date = now) -> Int? {
        guard let date = HTTPDate.parse(text, now: now) else { return nil }
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        return Int(parts.tm_year) + 1900
    }

    @Test func aTwoDigitYearIsTheLatestNotMoreThanFiftyYearsAhead() throws {
        #expect(Self.year("Sunday, 06-Nov-94 08:49:37 GMT") == 1994)
        #expect(Self.year("Friday, 01-Jan-27 00:00:00 GMT") == 2027)
        #expect(Self.year("Sunday, 01-Jan-00 00:00:00 GMT") == 2000)
        // 2076 is 50 years ahead: up to now's day and time it is 2076 (not more than 50 years), after it 1976.
        #expect(Self.year("Friday, 06-Nov-76 08:49:37 GMT") == 2076)
        #expect(Self.year("Tuesday, 08-Dec-76 01:00:00 GMT") == 2076)
        #expect(Self.year("Tuesday, 08-Dec-76 01:00:01 GMT") == 1976)
        #expect(Self.year("Monday, 01-Jan-77 00:00:00 GMT") == 1977)
        #expect(Self.year("Thursday, 31-Dec-99 23:59:59 GMT") == 1999)
        // The exact instant, not only the year.
        let exact = try #require(HTTPDate.parse("Tuesday, 08-Dec-76 01:00:00 GMT", now: Self.now))
        #expect(exact.timeIntervalSince1970 == 3_374_614_800)
    }

    /// Near the end of a century the window reaches into the next one: in 2080, "10" is 2110 (30 years ahead), not
    /// 2010 (70 years past).
    @Test func theWindowCrossesACentury() {
        let in2080 = Date(timeIntervalSince1970: 3_471_292_800)  // 2080-01-01 00:00:00 UTC
        #expect(Self.year("Wednesday, 01-Jan-10 00:00:00 GMT", now: in2080) == 2110)
        #expect(Self.year("Sunday, 01-Jan-30 00:00:00 GMT", now: in2080) == 2130)
        #expect(Self.year("Monday, 01-Jan-31 00:00:00 GMT", now: in2080) == 2031)
        #expect(Self.year("Monday, 01-Jan-80 00:00:00 GMT", now: in2080) == 2080)
    }

    /// Two digits exactly: a year of one or three digits is no RFC 850 date.
    @Test func onlyTwoDigitsMakeAnRFC850Year() {
        #expect(HTTPDate.parse("Sunday, 06-Nov-4 08:49:37 GMT", now: Self.now) == nil)
        #expect(HTTPDate.parse("Sunday, 06-Nov-994 08:49:37 GMT", now: Self.now) == nil)
    }
}
