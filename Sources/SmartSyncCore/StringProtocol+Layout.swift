extension StringProtocol {
    /// The text without leading and trailing white space (Unicode's: spaces, tabs, and with `newlines` line breaks
    /// too), as Foundation's `trimmingCharacters(in: .whitespacesAndNewlines)` (or `.whitespaces`) trims it.
    public func trimmed(newlines: Bool = true) -> String {
        let trim = { (c: Character) in c.isWhitespace && (newlines || !c.isNewline) }
        guard let first = firstIndex(where: { !trim($0) }), let last = lastIndex(where: { !trim($0) }) else {
            return ""
        }
        return String(self[first...last])
    }

    /// The text cut or padded with spaces to `width` characters, for a column (Foundation's
    /// `padding(toLength:withPad: " ", startingAt: 0)`).
    public func padded(to width: Int) -> String {
        count >= width ? String(prefix(width)) : String(self) + String(repeating: " ", count: width - count)
    }
}
