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

    @Test func anHTTPErrorBodyIsEscapedAndCut() throws {
        let body = Self.hostile + Array(repeating: UInt8(ascii: "z"), count: 5000)
        let response = TransferResponse(
            status: 500, headers: HTTPHeaders([]), body: body, bytesReceived: body.count, effectiveURL: "http://h/r",
            httpVersion: 2, newConnections: 0, totalTime: 0)
        let error = #expect(throws: SmartSyncError.self) {
            try UploadPackClient.check(response, url: "http://h/r", method: "POST")
        }
        let message = error?.message ?? ""
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
}
