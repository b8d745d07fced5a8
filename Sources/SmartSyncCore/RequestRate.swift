/// A number of requests per unit of time as options write it: `10`, `10/s`, `120/m`, `3600/h` (a plain number is per
/// second; fractions are fine: `0.5/s`). `--max-rate-per-host` takes one. Zero, negative and non-finite rates are
/// refused.
public struct RequestRate: Sendable, Hashable, CustomStringConvertible {
    /// Requests per second.
    public var perSecond: Double

    public init(perSecond: Double) { self.perSecond = perSecond }

    private static let units: [String: Double] = ["s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600]

    /// Reads `text` (surrounding spaces ignored); nil for anything that is not a positive rate.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map {
            Substring($0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        }
        var seconds = 1.0
        if parts.count == 2 {
            guard let unit = Self.units[parts[1].lowercased()] else { return nil }
            seconds = unit
        }
        guard let number = parts.first, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(number), value > 0, value.isFinite
        else { return nil }
        perSecond = value / seconds
    }

    /// `10/s`, or with more digits when it is not a whole number per second.
    public var description: String {
        perSecond == perSecond.rounded() ? "\(Int(perSecond))/s" : "\(perSecond)/s"
    }
}
