import FoundationEssentials
import Glibc

/// An HTTP-date in the three forms a recipient must read (RFC 9110 §5.6.7), in UTC: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
/// (`Sun Nov  6 08:49:37 1994`). Read with the C library (`timegm`), not Foundation's `DateFormatter` and ICU.
/// The weekday is not checked against the date. An RFC 850 two-digit year is read as RFC 9110 §5.6.7 says: the year
/// with those digits in `now`'s century, or 100 years earlier when that date is more than 50 years after `now` (never
/// a year of the next century). Every number is ASCII digits only (`Int` alone would take `+5`).
enum HTTPDate {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The date `text` names; nil for anything else.
    static func parse(_ text: String, now: Date = Date()) -> Date? {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var day = 0, month = 0, year = 0, clock = ""
        if fields.count == 6, fields[0].hasSuffix(","), fields[5] == "GMT" {  // IMF-fixdate
            guard let d = number(fields[1]), let m = months.firstIndex(of: fields[2]), let y = number(fields[3]) else {
                return nil
            }
            (day, month, year, clock) = (d, m + 1, y, fields[4])
        } else if fields.count == 4, fields[0].hasSuffix(","), fields[3] == "GMT" {  // RFC 850
            let parts = fields[1].split(separator: "-").map(String.init)
            guard parts.count == 3, let d = number(parts[0]), let m = months.firstIndex(of: parts[1]),
                let yy = number(parts[2]), parts[2].count == 2
            else { return nil }
            (day, month, year, clock) = (d, m + 1, yy, fields[2])
        } else if fields.count == 5 {  // asctime
            guard let m = months.firstIndex(of: fields[1]), let d = number(fields[2]), let y = number(fields[4]) else {
                return nil
            }
            (day, month, year, clock) = (d, m + 1, y, fields[3])
        } else {
            return nil
        }
        let hms = clock.split(separator: ":").map { number(String($0)) }
        guard hms.count == 3, let hour = hms[0], let minute = hms[1], let second = hms[2],
            (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        if fields.count == 4 { year = century(of: year, month, day, hour, minute, second, now: now) }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        guard parts.tm_mday == Int32(day) else { return nil }  // 31 Feb and the like roll over: refused
        return Date(timeIntervalSince1970: Double(seconds))
    }

    /// `text` as a decimal number when it is ASCII digits only (1 to 4 of them); nil for a sign, a space or more.
    private static func number(_ text: String) -> Int? {
        let digits = text.utf8
        guard (1...4).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(text)
    }

    /// The year ending in `yy` as RFC 9110 §5.6.7 reads it: in `now`'s century, or 100 years earlier when that date
    /// (the rest given) would be more than 50 years after `now`. The RFC only ever moves a year back: late in a century
    /// (`now` 2080) `10` is 2010, never 2110.
    private static func century(
        of yy: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int, now: Date
    ) -> Int {
        var t = time_t(now.timeIntervalSince1970)
        var n = tm()
        gmtime_r(&t, &n)
        let thisYear = Int(n.tm_year) + 1900
        let limit = thisYear + 50
        var year = thisYear - thisYear % 100 + yy
        let rest = [month, day, hour, minute, second]
        let nowRest = [Int(n.tm_mon) + 1, Int(n.tm_mday), Int(n.tm_hour), Int(n.tm_min), Int(n.tm_sec)]
        // More than 50 years ahead: a year after `limit`, or `limit` itself later in the year than now.
        if year > limit || (year == limit && nowRest.lexicographicallyPrecedes(rest)) { year -= 100 }
        return year
    }
}
