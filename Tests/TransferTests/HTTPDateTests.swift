import FoundationEssentials
import Glibc
import Testing

@testable import SmartSyncTransfer

/// `HTTPDate`'s RFC 850 form and its two-digit year, read as RFC 9110 §5.6.7 says: the year in now's century, or the
/// one 100 years earlier when that date would be more than 50 years in the future.
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

    /// The RFC only ever moves a year back: late in a century, where 50 years ahead reaches into the next one, the
    /// year is still in now's century (in 2080 "10" is 2010, 70 years past, not 2110) or the one before.
    @Test func aYearIsNeverMovedIntoTheNextCentury() {
        let in2080 = Date(timeIntervalSince1970: 3_471_292_800)  // 2080-01-01 00:00:00 UTC
        #expect(Self.year("Wednesday, 01-Jan-10 00:00:00 GMT", now: in2080) == 2010)
        #expect(Self.year("Tuesday, 01-Jan-30 00:00:00 GMT", now: in2080) == 2030)
        #expect(Self.year("Monday, 01-Jan-80 00:00:00 GMT", now: in2080) == 2080)
        #expect(Self.year("Friday, 31-Dec-99 23:59:59 GMT", now: in2080) == 2099)
        // On the century's last day, "00" is 2000 (99 years past), not 2100 (one day ahead).
        let lastDay = Date(timeIntervalSince1970: 4_102_358_400)  // 2099-12-31 00:00:00 UTC
        #expect(Self.year("Friday, 01-Jan-00 00:00:00 GMT", now: lastDay) == 2000)
        // Early in a century the 50-year limit still moves one back: in 2000, "51" is 1951, "50" up to now is 2050.
        let in2000 = Date(timeIntervalSince1970: 946_684_800)  // 2000-01-01 00:00:00 UTC
        #expect(Self.year("Saturday, 01-Jan-50 00:00:00 GMT", now: in2000) == 2050)
        #expect(Self.year("Saturday, 01-Jan-50 00:00:01 GMT", now: in2000) == 1950)
        #expect(Self.year("Monday, 01-Jan-51 00:00:00 GMT", now: in2000) == 1951)
    }

    /// Two digits exactly: a year of one or three digits is no RFC 850 date.
    @Test func onlyTwoDigitsMakeAnRFC850Year() {
        #expect(HTTPDate.parse("Sunday, 06-Nov-4 08:49:37 GMT", now: Self.now) == nil)
        #expect(HTTPDate.parse("Sunday, 06-Nov-994 08:49:37 GMT", now: Self.now) == nil)
    }

    /// Every number is ASCII digits: a sign or a space that `Int` would take is no date.
    @Test func numbersAreDigitsOnly() {
        #expect(HTTPDate.parse("Sunday, 06-Nov-+5 08:49:37 GMT", now: Self.now) == nil)
        #expect(HTTPDate.parse("Sunday, +6-Nov-94 08:49:37 GMT", now: Self.now) == nil)
        #expect(HTTPDate.parse("Sun, +6 Nov 1994 08:49:37 GMT", now: Self.now) == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov +994 08:49:37 GMT", now: Self.now) == nil)
        #expect(HTTPDate.parse("Sun Nov +6 08:49:37 1994", now: Self.now) == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 +8:49:37 GMT", now: Self.now) == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: Self.now) != nil)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994", now: Self.now) != nil)
    }
}
