import FoundationEssentials
import SmartSyncCore
import SmartSyncTransfer

/// GitHub's rate-limit headers of one API response: `x-ratelimit-limit`, `-remaining`, `-used`, `-reset`
/// (Unix seconds) and `-resource` (`core`, `search`, ...).
public struct RateLimitState: Sendable, Equatable {
    public var limit: Int?
    public var remaining: Int
    public var used: Int?
    /// When the window resets.
    public var reset: Date?
    public var resource: String?

    public init(limit: Int? = nil, remaining: Int, used: Int? = nil, reset: Date? = nil, resource: String? = nil) {
        self.limit = limit
        self.remaining = remaining
        self.used = used
        self.reset = reset
        self.resource = resource
    }

    /// Reads the headers; nil when `x-ratelimit-remaining` is absent or not a number.
    public init?(headers: HTTPHeaders) {
        guard let remaining = headers["x-ratelimit-remaining"].flatMap({ Int($0.trimmingWhitespace()) }) else {
            return nil
        }
        self.remaining = remaining
        limit = headers["x-ratelimit-limit"].flatMap { Int($0.trimmingWhitespace()) }
        used = headers["x-ratelimit-used"].flatMap { Int($0.trimmingWhitespace()) }
        // Unix seconds from the server: NaN is no reset; anything else within year 1970 ... 9999, which the date
        // formatter shows and ``secondsToReset(from:)`` clamps.
        reset = headers["x-ratelimit-reset"].flatMap { Double($0.trimmingWhitespace()) }.flatMap {
            $0.isNaN ? nil : Date(timeIntervalSince1970: min(max(0, $0), Self.latestReset))
        }
        resource = headers["x-ratelimit-resource"].map { String($0.trimmingWhitespace()) }
    }

    /// The latest reset read from a header, 9999-12-31 23:59:59 UTC.
    static let latestReset: Double = 253_402_300_799

    /// True when no request is left in this window and the window has not reset yet at `now`.
    public func isExhausted(at now: Date = Date()) -> Bool {
        remaining <= 0 && (reset.map { $0 > now } ?? true)
    }

    /// Seconds from `now` until the reset (0 when past or unknown), at most ``RetryPolicy/longestDelay``: the reset
    /// is the server's number, and `x-ratelimit-reset: 1e20` must not make a delay that traps when made an `Int`.
    public func secondsToReset(from now: Date = Date()) -> Double {
        RetryPolicy.clampedDelay(reset?.timeIntervalSince(now) ?? 0)
    }

    /// How long to wait before asking again: one second past the reset (GitHub's clock and ours differ a little);
    /// infinite when the reset is unknown. The one number both the wait and its refusal's hint test with
    /// ``RetryPolicy/mayWait(_:within:)``.
    public func delayUntilReset(from now: Date = Date()) -> Double {
        reset == nil ? .infinity : secondsToReset(from: now) + 1
    }

    /// Whether a response is GitHub's primary rate limit: 403 or 429 with `x-ratelimit-remaining: 0` and no
    /// `Retry-After` (that form is a secondary limit, retried after the delay it asks).
    public static func isPrimaryLimit(_ response: TransferResponse) -> Bool {
        (response.status == 403 || response.status == 429) && response.headers["retry-after"] == nil
            && response.headers["x-ratelimit-remaining"]?.trimmingWhitespace() == "0"
    }

    /// "at 14:03:07 (in 42 s)", for messages; local time.
    public func describeReset(now: Date = Date()) -> String {
        guard let reset else { return "at an unknown time" }
        let time = LocalTime.string(secondsSince1970: reset.timeIntervalSince1970)
        return "at \(time) (in \(Int(secondsToReset(from: now).rounded(.up))) s)"
    }
}
