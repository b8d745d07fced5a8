import Glibc

/// A moment in the host's local time as an operator's clock shows it, `2026-12-07 23:04:26 GMT+1` (`localtime_r`):
/// the status view's and rate-limit messages' times. The zone is written as Foundation's `DateFormatter` (ICU's
/// `zzz`) wrote it, from the offset rather than the C library's abbreviation (`CET`): `GMT+1`, `GMT+5:30`, `GMT-3:30`,
/// `UTC` for a zone the C library names `UTC`, `GMT` for another zone at offset zero.
public enum LocalTime {
    /// `secondsSince1970` (fractions dropped) as `yyyy-MM-dd HH:mm:ss ZONE`.
    public static func string(secondsSince1970: Double) -> String {
        var t = time_t(secondsSince1970.rounded(.down))
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return "" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        let time = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return time + " " + zone(offsetSeconds: parts.tm_gmtoff, name: parts.tm_zone.map { String(cString: $0) })
    }

    /// ICU's short zone of a local time `offsetSeconds` east of UTC whose C library abbreviation is `name`.
    static func zone(offsetSeconds: Int, name: String?) -> String {
        if offsetSeconds == 0 { return name == "UTC" ? "UTC" : "GMT" }
        let minutes = offsetSeconds.magnitude / 60
        let hours = "GMT" + (offsetSeconds < 0 ? "-" : "+") + String(minutes / 60)
        guard minutes % 60 != 0 else { return hours }
        return hours + ":" + (minutes % 60 < 10 ? "0" : "") + String(minutes % 60)
    }
}
