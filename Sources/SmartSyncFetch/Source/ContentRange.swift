/// A `Content-Range` response header: `bytes FIRST-LAST/SIZE` (a 206), or `bytes */SIZE` (a 416).
///
/// `SIZE` may be `*` (unknown). Anything else does not parse, and a resuming download then starts over.
public struct ContentRange: Sendable, Equatable {
    /// The first byte of the body, or nil for the unsatisfied form `bytes */SIZE`.
    public var first: Int?
    /// The last byte of the body (inclusive), or nil for the unsatisfied form.
    public var last: Int?
    /// The complete representation's length, when the server knows it.
    public var size: Int?

    public init(first: Int?, last: Int?, size: Int?) {
        self.first = first
        self.last = last
        self.size = size
    }

    /// Parses a header value; nil when it is not a byte range this type describes.
    public init?(_ value: String?) {
        guard let value else { return nil }
        let text = value.trimmingWhitespace()
        guard text.lowercased().hasPrefix("bytes"), let slash = text.lastIndex(of: "/") else { return nil }
        let span = text[text.index(text.startIndex, offsetBy: 5)..<slash].trimmingWhitespace()
        let total = text[text.index(after: slash)...].trimmingWhitespace()
        if total == "*" {
            size = nil
        } else {
            guard let n = Self.number(total) else { return nil }
            size = n
        }
        if span == "*" {
            guard size != nil else { return nil }
            first = nil
            last = nil
            return
        }
        let bounds = span.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let a = Self.number(bounds[0]), let b = Self.number(bounds[1]), a <= b else {
            return nil
        }
        if let size, b >= size { return nil }
        first = a
        last = b
    }

    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return Substring(s)
    }
}
