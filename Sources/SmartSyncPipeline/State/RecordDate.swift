import FoundationEssentials
import Glibc

/// The dates of the run records (`counters.json`, `store-counters`, the history's lines): ISO 8601 in UTC to the
/// second, `2026-12-07T10:04:26Z`, exactly as `JSONEncoder`'s `.iso8601` strategy writes them and read as its
/// `JSONDecoder` counterpart reads them.
///
/// Foundation's strategy builds a Gregorian calendar and looks up the current time zone (through ICU) the first time
/// a process formats or parses a date: ~0.5 ms of every run, which records one. Here a date of years 1970-9999 is
/// written with `gmtime_r` and a string of exactly that form read with `timegm`; anything else (another offset,
/// fractions, a year outside that range) goes to Foundation's own format style, as before.
enum RecordDate {
    /// The seconds of 9999-12-31T23:59:59Z, the last date of four-digit years.
    private static let lastFourDigitSecond: Double = 253_402_300_799

    /// `date` as the `.iso8601` strategy writes it.
    static func string(_ date: Date) -> String {
        // Floored where the date is stored (seconds since 2001), as Foundation floors it: flooring the 1970-based sum
        // could round a date a hair before a second up to that second.
        let t = date.timeIntervalSinceReferenceDate.rounded(.down) + Date.timeIntervalBetween1970AndReferenceDate
        guard t >= 0, t <= lastFourDigitSecond else { return date.formatted(.iso8601) }
        var seconds = time_t(t)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return date.formatted(.iso8601) }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        func digits(_ value: Int32, _ count: Int) {
            var divisor: Int32 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(parts.tm_year + 1900, 4)
        out.append(UInt8(ascii: "-"))
        digits(parts.tm_mon + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(parts.tm_mday, 2)
        out.append(UInt8(ascii: "T"))
        digits(parts.tm_hour, 2)
        out.append(UInt8(ascii: ":"))
        digits(parts.tm_min, 2)
        out.append(UInt8(ascii: ":"))
        digits(parts.tm_sec, 2)
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
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for b in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
                value = value * 10 + Int32(b - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19), year >= 1970
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds = timegm(&parts)
        guard seconds >= 0, string(Date(timeIntervalSince1970: Double(seconds))) == text else { return nil }
        return Int(seconds)
    }
}
