/// `--splay`: the longest random delay before a run's first request, so that hosts started together (one timer, one
/// deployment) do not all reach the origin or a mirror in the same second. Written `30s`, `5m`, `1h`, `500ms` or plain
/// seconds (fractions allowed); `0` is no delay.
public struct Splay: Sendable, Hashable, CustomStringConvertible {
    /// The upper bound of the delay, in seconds (exclusive; 0: none).
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    /// No delay.
    public static let none = Splay(seconds: 0)

    /// The longest splay accepted: a day. A longer one is more likely a mistake (`30d` for `30s`) than a plan.
    public static let maximum = 86_400.0

    private static let units: [(suffix: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600),
    ]

    /// Reads `text` (surrounding spaces ignored); nil for anything that is not a duration from 0 to a day.
    public init?(parsing text: String) {
        var digits = Substring(text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()).lowercased()[...]
        var unit = 1.0
        for (suffix, seconds) in Self.units where digits.hasSuffix(suffix) {
            unit = seconds
            digits = digits.dropLast(suffix.count)
            break
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(digits), value * unit <= Self.maximum
        else { return nil }
        seconds = value * unit
    }

    /// A delay drawn uniformly from `[0, seconds)` (0 when there is no splay).
    public func randomDelay() -> Double {
        seconds > 0 ? Double.random(in: 0..<seconds) : 0
    }

    /// Sleeps for `delay` seconds (one drawn by ``randomDelay()``). Cancelling the task ends the wait with
    /// `CancellationError`. No signal is caught: SIGINT and SIGTERM end the process during the wait as at any other
    /// time, and nothing has been opened or locked yet.
    public static func wait(_ delay: Double) async throws {
        guard delay > 0 else { return }
        try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
    }

    /// `30s`, `1.5s`: as an option would write it.
    public var description: String {
        seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}
