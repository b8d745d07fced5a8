import Glibc

/// The times of allowed-signers options, parsed as OpenSSH's `parse_absolute_time` does (misc.c):
/// `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, in local time (`mktime`), or in UTC with a `Z` or `UTC` suffix.
enum SSHTime {
    /// Seconds since the epoch, or nil when `text` is not such a time.
    static func parse(_ text: String) -> Int64? {
        var digits = Array(text.utf8)
        var utc = false
        if digits.count > 1, digits.last == UInt8(ascii: "Z") || digits.last == UInt8(ascii: "z") {
            utc = true
            digits.removeLast()
        } else if digits.count > 3, String(decoding: digits.suffix(3), as: UTF8.self).lowercased() == "utc" {
            utc = true
            digits.removeLast(3)
        }
        // strptime's fields and ranges (glibc: %S allows leap seconds up to 61); the day is not checked against
        // the month, and mktime/timegm normalise it, as in ssh-keygen.
        guard [8, 12, 14].contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        func field(_ start: Int, _ count: Int) -> Int32 {
            digits[start..<start + count].reduce(0) { $0 * 10 + Int32($1 - 0x30) }
        }
        var fields = tm()
        fields.tm_year = field(0, 4) - 1900
        fields.tm_mon = field(4, 2) - 1
        fields.tm_mday = field(6, 2)
        if digits.count >= 12 {
            fields.tm_hour = field(8, 2)
            fields.tm_min = field(10, 2)
        }
        if digits.count == 14 { fields.tm_sec = field(12, 2) }
        guard (0...11).contains(fields.tm_mon), (1...31).contains(fields.tm_mday), (0...23).contains(fields.tm_hour),
            (0...59).contains(fields.tm_min), (0...61).contains(fields.tm_sec)
        else { return nil }
        let seconds = utc ? timegm(&fields) : mktime(&fields)
        guard seconds >= 0 else { return nil }
        return Int64(seconds)
    }

    /// `2024-01-01T00:00:00Z`, for messages.
    static func format(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var fields = tm()
        gmtime_r(&time, &fields)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &fields)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
