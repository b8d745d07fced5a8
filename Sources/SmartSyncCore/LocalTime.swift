import Glibc

/// A moment in the host's local time as an operator's clock shows it, `2026-12-07 23:04:26 CET` (`localtime_r` and
/// `strftime`'s `%Z`): the status view's and rate-limit messages' times. Foundation's `DateFormatter` wrote the zone
/// as ICU names it (`UTC` the same; `GMT+1` where the C library says `CET`).
public enum LocalTime {
    /// `secondsSince1970` (fractions dropped) as `yyyy-MM-dd HH:mm:ss ZONE`.
    public static func string(secondsSince1970: Double) -> String {
        var t = time_t(secondsSince1970.rounded(.down))
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return "" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %Z", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
