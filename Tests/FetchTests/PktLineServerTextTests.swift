import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch
@testable import SmartSyncGitProtocol

/// A git server's words (an `ERR` packet, side-band channel 2 and 3, an HTTP error body) reach a message through the
/// one escaper (`EscapedText`), cut as at every other site: no escape sequence, C1 control, bidirectional override or
/// invalid UTF-8 reaches the operator's terminal as it is. The pkt-line code had its own replacement, which turned
/// C0 controls into spaces and let C1 controls (U+009B, a CSI of its own) and U+202E through.
struct PktLineServerTextTests {
    /// ESC, a C1 CSI as UTF-8 (U+009B) and as a lone byte, a right-to-left override, an invalid byte.
    static let hostile: [UInt8] =
        Array("fatal: ".utf8) + [0x1B] + Array("[31mred".utf8) + [0xC2, 0x9B] + Array("2J".utf8) + [0x9B]
        + Array("x\u{202E}gnp.exe".utf8) + [0xFF] + Array("end".utf8)
    /// How it must show.
    static let shown = "fatal: \\x1b[31mred\\xc2\\x9b2J\\x9bx\\xe2\\x80\\xaegnp.exe\\xffend"

    static func expectSafe(_ message: String, _ what: Comment) {
        #expect(message.contains(shown), what)
        #expect(!message.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, what)
        #expect(!message.unicodeScalars.contains { $0 == "\u{202E}" || $0 == "\u{FFFD}" }, what)
    }

    @Test func channelThreeIsEscaped() throws {
        let stream = PktLine.encode("packfile\n") + PackSpoolSinkTests.band(3, Self.hostile + [0x0A])
        let (sink, accepted, _) = try PackSpoolSinkTests.run(stream)
        #expect(!accepted)
        Self.expectSafe(sink.failure?.message ?? "", "\(String(describing: sink.failure))")
    }

    @Test func anERRPacketIsEscaped() throws {
        // The length prefix, "ERR ", the text, a newline.
        var packet = Array(String(format: "%04x", Self.hostile.count + 9).utf8) + Array("ERR ".utf8)
        packet += Self.hostile + [0x0A]
        let (sink, accepted, _) = try PackSpoolSinkTests.run(packet)
        #expect(!accepted)
        Self.expectSafe(sink.failure?.message ?? "", "\(String(describing: sink.failure))")
        #expect(sink.failure?.message.contains("refused the fetch: fatal: ") == true)

        let error = #expect(throws: SmartSyncError.self) { try UploadPackClient.parseRefs(packet, url: "http://h/r") }
        Self.expectSafe(error?.message ?? "", "\(String(describing: error))")
        #expect(error?.message.contains("refused ls-refs: fatal: ") == true)
    }

    @Test func progressIsEscaped() throws {
        let stream =
            PktLine.encode("packfile\n") + PackSpoolSinkTests.band(2, Self.hostile + [0x0D])
            + PackSpoolSinkTests.band(1, PackSpoolSinkTests.pack) + PktLine.flush
        let notices = Locked<[String]>([])
        let (sink, accepted, _) = try PackSpoolSinkTests.run(stream, notices: notices)
        #expect(accepted)
        try sink.finish()
        #expect(notices.withLock { $0 } == ["remote: " + Self.shown])
    }

    /// The message `UploadPackClient.check` throws for an HTTP `status` with `body`.
    static func httpErrorMessage(status: Int, body: [UInt8]) -> String {
        let response = TransferResponse(
            status: status, headers: HTTPHeaders([]), body: body, bytesReceived: body.count,
            effectiveURL: "http://h/r", httpVersion: 2, newConnections: 0, totalTime: 0)
        let error = #expect(throws: SmartSyncError.self) {
            try UploadPackClient.check(response, url: "http://h/r", method: "POST")
        }
        return error?.message ?? ""
    }

    @Test func anHTTPErrorBodyIsEscapedAndCut() throws {
        let body = Self.hostile + Array(repeating: UInt8(ascii: "z"), count: 5000)
        let message = Self.httpErrorMessage(status: 500, body: body)
        Self.expectSafe(message, "\(message)")
        // Cut as every excerpt is (200 bytes of the server's text), the rest counted.
        #expect(message.contains("…(\(body.count - 200) bytes more)"), "\(message)")
    }

    @Test func serverTextQuotedFromParsedLinesIsEscaped() throws {
        // A ref line whose id is not one: the quoted field goes through the escaper too.
        let line = PktLine.encode("\u{1B}[2J\u{202E} refs/heads/main\n") + PktLine.flush
        let error = #expect(throws: SmartSyncError.self) { try UploadPackClient.parseRefs(line, url: "http://h/r") }
        #expect(
            error?.message.contains("sent '\\x1b[2J\\xe2\\x80\\xae' where an object id") == true,
            "\(String(describing: error))")
        // A long line is cut: an unknown section name of 5,000 bytes is quoted in 200.
        let long = PktLine.encode(String(repeating: "s", count: 5000) + "\n") + PktLine.flush
        let (sink, _, _) = try PackSpoolSinkTests.run(long)
        #expect(sink.failure?.message.contains("…(4800 bytes more)") == true, "\(String(describing: sink.failure))")
    }

    /// A ref line is parsed from its bytes as sent: until the seventh session it was parsed from the escaper's text,
    /// cut at 1,000 bytes, so a long tag name lost its end and its `peeled:` attribute.
    @Test func aLongRefNameIsParsedWhole() throws {
        let id = String(repeating: "a", count: 40)
        let peeled = String(repeating: "b", count: 40)
        let name = "refs/tags/" + String(repeating: "t", count: 1014)
        #expect(name.utf8.count == 1024)
        let refs = try UploadPackClient.parseRefs(
            PktLine.encode("\(id) \(name) peeled:\(peeled)\n") + PktLine.flush, url: "http://h/r")
        #expect(refs.map(\.name) == [name])
        #expect(refs.first?.peeled == ObjectID(hex: peeled))
    }

    /// A control byte in a ref's name stays in it: it used to become a space, which split the name, so
    /// `refs/heads/main\x01x` was read as `refs/heads/main` (and `x` as an attribute).
    @Test func aControlByteInARefNameIsNotASeparator() throws {
        let id = String(repeating: "a", count: 40)
        let refs = try UploadPackClient.parseRefs(
            PktLine.encode("\(id) refs/heads/main\u{01}x\n") + PktLine.flush, url: "http://h/r")
        #expect(refs.map(\.name) == ["refs/heads/main\u{01}x"])
        #expect(refs.first?.name != "refs/heads/main")
    }

    /// A malformed line's field is quoted from its bytes: an invalid byte shows as `\xff`, not as the U+FFFD a
    /// decoded text has in its place.
    @Test func aMalformedLinesInvalidBytesAreQuotedAsBytes() throws {
        func packet(_ bytes: [UInt8]) -> [UInt8] { Array(String(format: "%04x", bytes.count + 4).utf8) + bytes }
        let line = packet([0xFF] + Array("abc refs/heads/main\n".utf8)) + PktLine.flush
        let error = #expect(throws: SmartSyncError.self) { try UploadPackClient.parseRefs(line, url: "http://h/r") }
        #expect(error?.message.contains("sent '\\xffabc' where an object id") == true, "\(String(describing: error))")
        let section = PktLine.encode("shallow-info\n") + packet(Array("shallow ".utf8) + [0xFE, 0x0A]) + PktLine.flush
        let (sink, _, _) = try PackSpoolSinkTests.run(section)
        #expect(
            sink.failure?.message.contains("shallow-info from") == true
                && sink.failure?.message.contains("sent 'shallow \\xfe'") == true,
            "\(String(describing: sink.failure))")
        let advertisement = packet(Array("version \u{1B}".utf8) + [0xFD, 0x0A]) + PktLine.flush
        let refused = #expect(throws: SmartSyncError.self) {
            try UploadPackCapabilities.parse(advertisement: advertisement, url: "http://h/r")
        }
        #expect(
            refused?.message.contains("starts with 'version \\x1b\\xfd'") == true, "\(String(describing: refused))")
    }

    /// An HTTP error body's runs of white space are one space before the excerpt: an nginx error page's CR LF and
    /// indentation filled the 200 bytes with `\x0d\x0a`.
    @Test func anHTTPErrorPagesWhiteSpaceIsOneSpace() throws {
        let page =
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\t\r\n<body>\r\n    <center>"
            + "<h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        let message = Self.httpErrorMessage(status: 502, body: Array(page.utf8))
        #expect(
            message.contains(
                ": <html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad Gateway</h1></center> "
                    + "<hr><center>nginx</center> </body> </html>"), "\(message)")
        #expect(!message.contains("\\x0d") && !message.contains("\\x09"), "\(message)")
    }
}
