extension StringProtocol {
    /// The text without leading and trailing white space (Unicode's: spaces, tabs, and with `newlines` line breaks
    /// too), as Foundation's `trimmingCharacters(in: .whitespacesAndNewlines)` (or `.whitespaces`) trims it: per
    /// Unicode scalar, so a combining mark after a space stays (with the space it would join, Character by Character).
    public func trimmed(newlines: Bool = true) -> String {
        let isNewline = { (s: Unicode.Scalar) in
            (0x0A...0x0D).contains(s.value) || s.value == 0x85 || s.value == 0x2028 || s.value == 0x2029
        }
        let trim = { (s: Unicode.Scalar) in s.properties.isWhitespace && (newlines || !isNewline(s)) }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !trim($0) }), let last = scalars.lastIndex(where: { !trim($0) })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    /// The text cut or padded with spaces to `width` characters, for a column (Foundation's
    /// `padding(toLength:withPad: " ", startingAt: 0)`).
    public func padded(to width: Int) -> String {
        count >= width ? String(prefix(width)) : String(self) + String(repeating: " ", count: width - count)
    }
}
