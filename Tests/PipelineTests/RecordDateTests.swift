import Foundation
import Testing

@testable import SmartSyncPipeline

/// The run records' dates are written and read exactly as Foundation's `.iso8601` strategies write and read them.
@Suite struct RecordDateTests {
    private struct Box: Codable, Equatable { var date: Date }

    private func foundationJSON(_ date: Date) throws -> String {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        return String(decoding: try e.encode(Box(date: date)), as: UTF8.self)
    }

    private func foundationDate(_ json: String) -> Date? {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return try? d.decode(Box.self, from: Data(json.utf8)).date
    }

    @Test func datesAreWrittenAsTheISO8601StrategyWritesThem() throws {
        var seconds: [Double] = [
            0, 0.5, 0.999_999_999, 1, 59.999, 86_399.9999, 951_782_400, 1_798_761_599.75, 1_796_601_866.2264,
            4_102_444_800, 253_402_300_799, 253_402_300_799.5, 253_402_300_800, -0.25, -1, -86_400.5, -62_135_596_800,
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 { seconds.append(Double.random(in: 0..<4_200_000_000, using: &generator)) }
        // A date a hair before a whole second, as a `Date` stores it (seconds since 2001): the sum since 1970 rounds
        // up to the second, Foundation's floor does not.
        let hairBefore = [820_000_001.0, 1_000_000_000.0, 63_113_904_000.0].map(\.nextDown)
        let dates = seconds.map { Date(timeIntervalSince1970: $0) }
            + hairBefore.map { Date(timeIntervalSinceReferenceDate: $0) }
        for date in dates {
            let t = date.timeIntervalSince1970
            let ours = String(decoding: try JSONEncoder.records.encode(Box(date: date)), as: UTF8.self)
            #expect(ours == (try foundationJSON(date)), "\(t)")
        }
    }

    @Test func datesAreReadAsTheISO8601StrategyReadsThem() throws {
        let texts = [
            "2026-12-07T10:04:26Z", "1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z", "9999-12-31T23:59:59Z",
            "2023-02-29T00:00:00Z", "2026-12-07T24:00:00Z", "2026-12-07T23:59:60Z", "2026-13-01T00:00:00Z",
            "2026-12-07T10:04:26+01:00", "2026-12-07T10:04:26.5Z", "1969-12-31T23:59:59Z", "2026-12-07 10:04:26Z",
            "2026-12-07T10:04:26", "2026-1x-07T10:04:26Z", "", "not a date", "2100-02-29T00:00:00Z",
            "2400-02-29T00:00:00Z",
        ]
        for text in texts {
            let json = #"{"date":"\#(text)"}"#
            let ours = try? JSONDecoder.records.decode(Box.self, from: Data(json.utf8)).date
            #expect(ours == foundationDate(json), "\(text)")
        }
        #expect(RecordDate.date("2026-12-07T10:04:26Z") == Date(timeIntervalSince1970: 1_796_637_866))
        // 2100 is no leap year (a century): not a date of the arithmetic's; Foundation reads it, leniently, as the
        // day after 28 February, and so does `date` (through Foundation). 2400 is a leap year: read as it is.
        #expect(RecordDate.civil(days: RecordDate.days(year: 2100, month: 2, day: 29)) == (2100, 3, 1))
        #expect(RecordDate.date("2100-02-29T00:00:00Z") == RecordDate.date("2100-03-01T00:00:00Z"))
        #expect(RecordDate.date("2400-02-29T00:00:00Z") == Date(timeIntervalSince1970: 13_574_563_200))
    }

    /// The calendar arithmetic undoes itself across every year it writes, at the days a leap rule decides: 28 and 29
    /// February (a real date in leap years only) and 1 March, which follows either, one day after the last.
    @Test func civilDaysRoundTripAtEveryLeapDayOf1970To9999() {
        var mismatches: [String] = []
        for year in 1970...9999 {
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let march = RecordDate.days(year: year, month: 3, day: 1)
            let lastOfFebruary = RecordDate.days(year: year, month: 2, day: leap ? 29 : 28)
            if lastOfFebruary + 1 != march { mismatches.append("\(year): February ends the day before March") }
            for (month, day) in [(2, 28), (3, 1)] + (leap ? [(2, 29)] : []) {
                let d = RecordDate.civil(days: RecordDate.days(year: year, month: month, day: day))
                if d != (year, month, day) { mismatches.append("\(year)-\(month)-\(day): \(d)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        #expect(RecordDate.days(year: 1970, month: 1, day: 1) == 0 && RecordDate.civil(days: 0) == (1970, 1, 1))
    }
}
