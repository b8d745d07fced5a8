/// smart-sync's one glob dialect (`--exclude`, and the `glob` keys of validate's checks), matched against the
/// bytes of a whole relative path:
///
/// - `*` matches any run of bytes within one path component, `?` one byte other than `/`, and `[...]` one byte of
///   a set other than `/` (`[a-z]`, `[!x]` or `[^x]` for "not"; a `]` first in the set is literal). A set matches
///   single bytes, so a multi-byte character in it stands for each of its bytes.
/// - `**` matches any run of bytes, across components: `modules/**.nix` is every `.nix` file below `modules`.
///   As a whole component it may also match no directory at all: `**/x` matches `x`, `a/**/b` matches `a/b`.
/// - `\c` matches `c` itself. A leading `.` is an ordinary byte: `*` matches hidden names too, as in `.gitignore`.
///
/// Matching is a dynamic programme over (pattern token, path byte): time in proportion to their product, no
/// backtracking, whatever the pattern.
public struct PathGlob: Sendable, Hashable {
    /// The pattern as given.
    public let pattern: String
    private let tokens: [Token]

    private enum Token: Sendable, Hashable {
        case byte(UInt8)
        case anyByte
        case set(ranges: [ClosedRange<UInt8>], negated: Bool)
        /// `*`: a run within one component.
        case star
        /// `**`: any run.
        case globstar
        /// `**/` as whole components: nothing, or any run that ends with a `/`.
        case directories
    }

    /// The bytes a pattern without wildcards stands for (compared directly).
    private let literal: [UInt8]?

    public init(_ pattern: String) {
        self.pattern = pattern
        tokens = Self.parse(Array(pattern.utf8))
        var bytes: [UInt8] = []
        for token in tokens {
            guard case .byte(let b) = token else { break }
            bytes.append(b)
        }
        literal = bytes.count == tokens.count ? bytes : nil
    }

    /// True when the pattern has no wildcard: it names one path.
    public var isLiteral: Bool { literal != nil }

    /// The one path a pattern without wildcards names (its escapes removed); nil when it has wildcards.
    public var literalPath: TreePath? { literal.map { TreePath(bytes: $0) } }

    /// Whether the whole of `path` matches.
    public func matches(_ path: TreePath) -> Bool {
        path.withBytes { matches(bytes: $0) }
    }

    /// Whether the whole of `bytes` (a relative path, `/`-separated) matches.
    public func matches(bytes path: UnsafeBufferPointer<UInt8>) -> Bool {
        if let literal { return path.elementsEqual(literal) }
        let n = path.count
        let slash = UInt8(ascii: "/")
        // reach[i]: the tokens so far can match exactly path[..<i].
        var reach = [Bool](repeating: false, count: n + 1)
        var next = reach
        reach[0] = true
        for token in tokens {
            for i in 0...n { next[i] = false }
            var active = false
            for i in 0...n {
                let here = reach[i]
                switch token {
                case .byte(let b):
                    if here, i < n, path[i] == b { next[i + 1] = true }
                case .anyByte:
                    if here, i < n, path[i] != slash { next[i + 1] = true }
                case .set(let ranges, let negated):
                    if here, i < n, path[i] != slash, ranges.contains(where: { $0.contains(path[i]) }) != negated {
                        next[i + 1] = true
                    }
                case .star:
                    if here { active = true }
                    if active { next[i] = true }
                    if i < n, path[i] == slash { active = false }
                case .globstar:
                    if here { active = true }
                    if active { next[i] = true }
                case .directories:
                    if here {
                        active = true
                        next[i] = true
                    }
                    if active, i < n, path[i] == slash { next[i + 1] = true }
                }
            }
            swap(&reach, &next)
            if !reach.contains(true) { return false }
        }
        return reach[n]
    }

    private static func parse(_ p: [UInt8]) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        while i < p.count {
            let c = p[i]
            switch c {
            case UInt8(ascii: "\\") where i + 1 < p.count:
                tokens.append(.byte(p[i + 1]))
                i += 2
            case UInt8(ascii: "*"):
                var end = i
                while end < p.count, p[end] == UInt8(ascii: "*") { end += 1 }
                if end - i == 1 {
                    tokens.append(.star)
                } else if end < p.count, p[end] == UInt8(ascii: "/"), i == 0 || p[i - 1] == UInt8(ascii: "/") {
                    tokens.append(.directories)
                    end += 1
                } else {
                    tokens.append(.globstar)
                }
                i = end
            case UInt8(ascii: "?"):
                tokens.append(.anyByte)
                i += 1
            case UInt8(ascii: "["):
                if let (set, end) = parseSet(p, from: i) {
                    tokens.append(set)
                    i = end
                } else {
                    tokens.append(.byte(c))
                    i += 1
                }
            default:
                tokens.append(.byte(c))
                i += 1
            }
        }
        return tokens
    }

    /// The set starting at `p[start]` (a `[`) and the index after its `]`; nil when it is not closed.
    private static func parseSet(_ p: [UInt8], from start: Int) -> (Token, Int)? {
        var i = start + 1
        var negated = false
        if i < p.count, p[i] == UInt8(ascii: "!") || p[i] == UInt8(ascii: "^") {
            negated = true
            i += 1
        }
        var ranges: [ClosedRange<UInt8>] = []
        var first = true
        while i < p.count {
            if p[i] == UInt8(ascii: "]") && !first { return (.set(ranges: ranges, negated: negated), i + 1) }
            first = false
            var low = p[i]
            if low == UInt8(ascii: "\\"), i + 1 < p.count {
                i += 1
                low = p[i]
            }
            if i + 2 < p.count, p[i + 1] == UInt8(ascii: "-"), p[i + 2] != UInt8(ascii: "]") {
                let high = p[i + 2]
                if low <= high { ranges.append(low...high) }
                i += 3
            } else {
                ranges.append(low...low)
                i += 1
            }
        }
        return nil
    }
}
