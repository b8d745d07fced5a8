import SmartSyncCore
import SmartSyncGitObjects
import Testing

/// `EscapedText.escape(_:)`: the one way server text (a message, a header, a listing's field) reaches a message.
@Suite struct EscapedTextTests {
    @Test func controlBytesAreEscaped() {
        // An escape sequence, a forged log line, a bidirectional override, a C1 control and a backslash.
        let text = "Bad credentials\u{1B}[2J\nsmart-sync: sync complete\u{202E}txt.exe\u{85}\\"
        let shown = EscapedText.escape(text)
        #expect(shown == "Bad credentials\\x1b[2J\\x0asmart-sync: sync complete\\xe2\\x80\\xaetxt.exe\\xc2\\x85\\\\")
        #expect(!shown.utf8.contains { $0 < 0x20 || $0 == 0x7F })
        let plain = "plain text, é and 漢字 as they are"
        #expect(EscapedText.escape(Substring(plain)) == plain)
        #expect(EscapedText.escape("") == "")
    }

    @Test func bytesThatAreNotUTF8AreEscapedOneByOne() {
        let bytes: [UInt8] = Array("bytes ".utf8) + [0xFF, 0xC3, 0x28, 0x1B] + Array("caf".utf8) + [0xC3, 0xA9]
        #expect(EscapedText.escape(bytes: bytes) == "bytes \\xff\\xc3(\\x1bcafé")
        // A slice that does not start at 0.
        #expect(EscapedText.escape(bytes: bytes[2...]) == "tes \\xff\\xc3(\\x1bcafé")
    }

    @Test func longTextIsEscapedWhole() {
        // Nothing is cut: a control byte at the end of a long message is escaped as one at the start is.
        let text = "\u{07}" + String(repeating: "a long message ", count: 20_000) + "\u{1B}]0;title\u{07}"
        let shown = EscapedText.escape(text)
        #expect(shown.hasPrefix("\\x07a long message "))
        #expect(shown.hasSuffix("a long message \\x1b]0;title\\x07"))
        #expect(shown.utf8.count == text.utf8.count + 3 * 3)
    }

    @Test func anExcerptIsCutThenEscaped() {
        #expect(EscapedText.excerpt("short\u{1B}", limit: 10) == "short\\x1b")
        // Cut at 8 bytes, before escaping: the escapes of the kept part are whole, the rest is counted.
        #expect(EscapedText.excerpt("\u{1B}\u{1B}\u{1B}abcdefgh", limit: 8) == "\\x1b\\x1b\\x1babcde…(3 bytes more)")
        // Never inside a UTF-8 sequence: "é" is 2 bytes, a cut through it keeps it out whole.
        #expect(EscapedText.excerpt("abcé!", limit: 4) == "abc…(3 bytes more)")
        #expect(EscapedText.excerpt(String(repeating: "a", count: 1000)).hasSuffix("a…(800 bytes more)"))
        #expect(EscapedText.excerpt("") == "")
        // Bytes that need not be UTF-8 (a pkt-line, a body): escaped byte by byte; a run of continuation bytes is
        // stepped back over at most 3 (the longest tail of a sequence), so junk is not cut to nothing.
        #expect(EscapedText.excerpt(bytes: [0x61, 0x9B, 0xFF], limit: 10) == "a\\x9b\\xff")
        #expect(
            EscapedText.excerpt(bytes: [UInt8](repeating: 0x80, count: 20), limit: 8)
                == String(repeating: "\\x80", count: 5) + "…(15 bytes more)")
        #expect(EscapedText.excerpt(bytes: Array("ab€".utf8), limit: 3) == "ab…(3 bytes more)")
        // TreePath's escaping is this one.
        #expect(TreePath("a\u{202E}b").description == EscapedText.escape("a\u{202E}b"))
    }
}
