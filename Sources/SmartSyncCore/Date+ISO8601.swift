import FoundationEssentials

extension Date {
    /// The date in ISO 8601 to the second in UTC, `2026-12-07T10:04:26Z`, exactly as `ISO8601DateFormatter` wrote it
    /// for the CLI's output (`status`, `pins`, `restore`, their `--json`): rounded to the millisecond first, so a
    /// date at .9995 s or later prints the next second, then the fraction dropped. `formatted(.iso8601)` alone drops
    /// the fraction without that rounding.
    public var iso8601Seconds: String {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded() / 1000).formatted(.iso8601)
    }
}
