/// OpenSSH's pattern lists (`match_pattern_list` in match.c), as allowed-signers principals and `namespaces=` use
/// them: comma-separated patterns where `*` matches any run of characters and `?` any one, and a pattern starting
/// with `!` is negated. Case-sensitive, byte by byte.
enum SSHPatternList {
    /// The outcome of matching a string against a list.
    enum Match: Equatable {
        /// A positive pattern matched and no negated one did.
        case matched
        /// No pattern matched.
        case none
        /// A negated pattern matched: the string is excluded, whatever else matches.
        case negated
    }

    /// OpenSSH gives up on (does not match) a pattern this long or longer.
    static let maximumPatternLength = 1023

    /// Matches `string` against the comma-separated `list`.
    static func match(_ string: String, _ list: String) -> Match {
        let subject = Array(string.utf8)
        var positive = false
        var patterns = list.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        if patterns.last?.isEmpty == true { patterns.removeLast() }  // OpenSSH stops at a trailing comma
        for var pattern in patterns {
            let negated = pattern.first == UInt8(ascii: "!")
            if negated { pattern = pattern.dropFirst() }
            guard pattern.count < maximumPatternLength else { return .none }
            if matches(subject, Array(pattern)) {
                if negated { return .negated }
                positive = true
            }
        }
        return positive ? .matched : .none
    }

    /// Whether the whole of `subject` matches `pattern` (`*` and `?` wildcards).
    static func matches(_ subject: [UInt8], _ pattern: [UInt8]) -> Bool {
        var s = 0
        var p = 0
        var star: (pattern: Int, subject: Int)?
        while s < subject.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == subject[s] {
                s += 1
                p += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = (p, s)
                p += 1
            } else if let last = star {
                // Let the last `*` swallow one more character and retry from there.
                star = (last.pattern, last.subject + 1)
                p = last.pattern + 1
                s = last.subject + 1
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}
