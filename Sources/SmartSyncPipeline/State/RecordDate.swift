import FoundationEssentials

/// The dates of the run records (`counters.json`, `store-counters`, the history's lines): ISO 8601 in UTC to the
/// second, `2026-12-07T10:04:26Z`, exactly as `JSONEncoder`'s `.iso8601` strategy writes them and read as its
/// `JSONDecoder` counterpart reads them.
///
/// Foundation's strategy builds a Gregorian calendar and looks up the current time zone (through ICU) the first time
/// a process formats or parses a date: ~0.5 ms of every run, which records one. Here a date of years 1970-9999 is
/// written, and a string of exactly that form read, by the proleptic Gregorian calendar's arithmetic
/// (``civil(days:)``, ``days(year:month:day:)``); anything else (another offset, fractions, a year outside that
/// range) goes to Foundation's own format style, as before. Not glibc's `gmtime_r` and `timegm`: their first call in a
/// process loads the local time zone (`/etc/localtime` opened and read), which a date in UTC does not need.
enum RecordDate {
    /// The seconds of 9999-12-31T23:59:59Z, the last date of four-digit years.
    private static let lastFourDigitSecond: Double = 253_402_300_799

    /// `date` as the `.iso8601` strategy writes it.
    static func string(_ date: Date) -> String {
        // Floored where the date is stored (seconds since 2001), as Foundation floors it: flooring the 1970-based sum
        // could round a date a hair before a second up to that second.
        let t = date.timeIntervalSinceReferenceDate.rounded(.down) + Date.timeIntervalBetween1970AndReferenceDate
        guard t >= 0, t <= lastFourDigitSecond else { return date.formatted(.iso8601) }
        let seconds = Int(t)
        let (year, month, day) = civil(days: seconds / 86_400)
        let time = seconds % 86_400
        var out: [UInt8] = []
        out.reserveCapacity(20)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4)
        out.append(UInt8(ascii: "-"))
        digits(month, 2)
        out.append(UInt8(ascii: "-"))
        digits(day, 2)
        out.append(UInt8(ascii: "T"))
        digits(time / 3_600, 2)
        out.append(UInt8(ascii: ":"))
        digits(time / 60 % 60, 2)
        out.append(UInt8(ascii: ":"))
        digits(time % 60, 2)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// The date `text` names, as the `.iso8601` strategy reads it; nil where that strategy fails.
    static func date(_ text: String) -> Date? {
        if let seconds = canonicalSeconds(text) { return Date(timeIntervalSince1970: Double(seconds)) }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    /// The seconds of `text` when it is exactly `YYYY-MM-DDTHH:MM:SSZ` of a real date and time (what ``string(_:)``
    /// writes for it: the round trip is checked, so 02-30 or 24:00:00 go to Foundation); nil otherwise.
    private static func canonicalSeconds(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            bytes[19] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for b in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
                value = value * 10 + Int(b - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19), year >= 1970
        else { return nil }
        // Out-of-range fields (month 13, 02-30, 24:00:00) make another date: the round trip refuses them.
        let seconds = days(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
        guard seconds >= 0, string(Date(timeIntervalSince1970: Double(seconds))) == text else { return nil }
        return seconds
    }

    /// The date `days` after 1970-01-01 (`days` ≥ 0), proleptic Gregorian (H. Hinnant's `civil_from_days`).
    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468  // days since 0000-03-01
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // from March 1st
        let shifted = (5 * dayOfYear + 2) / 153  // March = 0
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, dayOfYear - (153 * shifted + 2) / 5 + 1)
    }

    /// The days from 1970-01-01 to `year-month-day` (year ≥ 1; ``civil(days:)`` undone for a real date; any other
    /// fields give some other day).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
