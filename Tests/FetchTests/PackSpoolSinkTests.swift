import Foundation
import SmartSyncCore
import SmartSyncGitObjects
@testable import SmartSyncGitProtocol
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// The fetch response reader, fed by hand: sections, side-band channels, and what it refuses.
struct PackSpoolSinkTests {
    static let resultType = HTTPHeaders([HTTPHeader("Content-Type", "application/x-git-upload-pack-result")])

    static func band(_ channel: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        var out = Array(String(format: "%04x", bytes.count + 5).utf8)
        out.append(channel)
        return out + bytes
    }

    /// Runs `stream` through a sink in chunks of `chunk` bytes; returns the sink, whether it kept going, the spool.
    static func run(
        _ stream: [UInt8], chunk: Int = 7, notices: Locked<[String]> = Locked([]), limit: ResponseLimit? = nil
    ) throws -> (PackSpoolSink, Bool, [UInt8]) {
        let directory = try TemporaryDirectory(prefix: "spool")
        let path = directory.appending("pack")
        let sink = try PackSpoolSink(
            path: path, url: "http://h/r.git/git-upload-pack", notice: { text in notices.withLock { $0.append(text) } },
            limit: limit)
        guard sink.begin(status: 200, headers: resultType) else { return (sink, false, []) }
        var accepted = true
        var start = 0
        while accepted && start < stream.count {
            let end = min(stream.count, start + chunk)
            accepted = stream[start..<end].withUnsafeBytes { sink.write($0) }
            start = end
        }
        let spooled = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        return (sink, accepted, spooled)
    }

    static let pack = Array("PACK".utf8) + [0, 0, 0, 2, 0, 0, 0, 0] + [UInt8](repeating: 0x5A, count: 100)

    @Test func sectionsAreReadAndChannelOneIsSpooled() throws {
        let commit = String(repeating: "1", count: 40)
        let gone = String(repeating: "2", count: 40)
        var stream: [UInt8] = []
        stream += PktLine.encode("shallow-info\n") + PktLine.encode("shallow \(commit)\n")
        stream += PktLine.encode("unshallow \(gone)\n") + PktLine.delim
        stream += PktLine.encode("wanted-refs\n") + PktLine.encode("\(commit) refs/heads/main\n") + PktLine.delim
        stream += PktLine.encode("packfile-uris\n") + PktLine.delim
        stream += PktLine.encode("packfile\n")
        stream += Self.band(2, Array("Counting objects: 3\r".utf8))
        stream += Self.band(1, Array(Self.pack[..<3])) + Self.band(1, Array(Self.pack[3...])) + PktLine.flush
        let notices = Locked<[String]>([])
        for chunk in [1, 5, 64, stream.count] {
            let (sink, accepted, spooled) = try Self.run(stream, chunk: chunk, notices: notices)
            #expect(accepted)
            try sink.finish()
            #expect(spooled == Self.pack)
            #expect(sink.response.packBytes == Self.pack.count)
            #expect(sink.response.shallow.map(\.hex) == [commit])
            #expect(sink.response.unshallow.map(\.hex) == [gone])
            #expect(sink.response.wantedRefs["refs/heads/main"]?.hex == commit)
            #expect(sink.response.responseBytes == stream.count)
        }
        #expect(notices.withLock { $0 }.first == "remote: Counting objects: 3")
    }

    @Test func serverTextCannotDriveTheTerminalOrFloodIt() throws {
        var stream = PktLine.encode("packfile\n")
        // An escape sequence (clear screen, retitle the window) in progress text, then a flood of progress.
        stream += Self.band(2, Array("\u{1B}[2J\u{1B}]0;owned\u{07}hello".utf8))
        for i in 0..<100 { stream += Self.band(2, Array("line \(i)\n".utf8)) }
        stream += Self.band(1, Self.pack) + PktLine.flush
        let notices = Locked<[String]>([])
        let (sink, accepted, _) = try Self.run(stream, notices: notices)
        #expect(accepted)
        try sink.finish()
        let shown = notices.withLock { $0 }
        #expect(shown.count == 20, "progress is shown up to a point: \(shown.count) lines")
        #expect(shown.allSatisfy { !$0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } })
        #expect(shown.first?.hasSuffix("hello") == true)
    }

    @Test func aResponseWithoutAPackfileSectionIsAnError() throws {
        let stream = PktLine.encode("acknowledgments\n") + PktLine.encode("NAK\n") + PktLine.flush
        let (sink, _, _) = try Self.run(stream)
        let error = #expect(throws: SmartSyncError.self) { try sink.finish() }
        #expect(error?.message.contains("no packfile section") == true)
        #expect(error?.message.contains("http://h/r.git/git-upload-pack") == true)
    }

    @Test func aPackThatDoesNotStartWithPACKIsRefused() throws {
        let stream = PktLine.encode("packfile\n") + Self.band(1, Array("PAC".utf8)) + Self.band(1, Array("X...".utf8))
        let (sink, accepted, _) = try Self.run(stream, chunk: stream.count)
        #expect(!accepted)
        #expect(sink.failure?.message.contains("does not start with 'PACK'") == true)
    }

    @Test func channelThreeAndERRCarryTheServersMessage() throws {
        let fatal = PktLine.encode("packfile\n") + Self.band(3, Array("fatal: out of memory\n".utf8))
        let (sink, accepted, _) = try Self.run(fatal)
        #expect(!accepted)
        #expect(sink.failure?.message.contains("fatal: out of memory") == true)

        let err = PktLine.encode("ERR upload-pack: not our ref 1234\n")
        let (refused, ok, _) = try Self.run(err)
        #expect(!ok)
        #expect(refused.failure?.message.contains("upload-pack: not our ref 1234") == true)
    }

    @Test func aBrokenTransferKeepsThePackBytesSoFar() throws {
        let stream = PktLine.encode("packfile\n") + Self.band(1, Self.pack)
        let (sink, accepted, spooled) = try Self.run(Array(stream.prefix(stream.count - 10)))
        #expect(accepted)
        #expect(spooled == Array(Self.pack.prefix(0)))  // the last packet was not complete: nothing of it written
        #expect(throws: SmartSyncError.self) { try sink.finish() }

        let two =
            PktLine.encode("packfile\n") + Self.band(1, Array(Self.pack[..<50])) + Self.band(1, Array(Self.pack[50...]))
        let (partial, _, kept) = try Self.run(Array(two.prefix(two.count - 10)))
        #expect(kept == Array(Self.pack[..<50]))
        let error = #expect(throws: SmartSyncError.self) { try partial.finish() }
        #expect(error?.message.contains("cut short") == true)
    }

    /// A v2 fetch response ends with the flush after the pack: a packet, a partial packet or bytes that are not
    /// pkt-lines at all after it are refused, in the same chunk or a later one; the pack before them stays spooled.
    @Test(arguments: [PktLine.encode("more\n"), PktLine.flush, Array("00".utf8), Array("junk".utf8)])
    func bytesAfterTheFinalFlushAreRefused(trailing: [UInt8]) throws {
        let stream = PktLine.encode("packfile\n") + Self.band(1, Self.pack) + PktLine.flush + trailing
        for chunk in [1, 7, stream.count] {
            let (sink, accepted, spooled) = try Self.run(stream, chunk: chunk)
            #expect(!accepted, "chunks of \(chunk)")
            #expect(sink.failure?.message.contains("goes on after its final flush packet") == true)
            #expect(sink.failure?.message.contains("http://h/r.git/git-upload-pack") == true)
            #expect(throws: SmartSyncError.self) { try sink.finish() }
            #expect(spooled == Self.pack)
        }
    }

    @Test func aResponseOverItsLimitIsRefusedAsItArrives() throws {
        let stream = PktLine.encode("packfile\n") + Self.band(1, Self.pack) + PktLine.flush
        let limit = ResponseLimit(bytes: 100, reason: "the 1 blob asked for")
        let (sink, accepted, spooled) = try Self.run(stream, chunk: 40, limit: limit)
        #expect(!accepted)
        #expect(sink.response.responseBytes == 80, "the chunk that would pass the limit is not taken")
        let message = sink.failure?.message ?? ""
        #expect(message.contains("larger than the 100 bytes (100 bytes) that the 1 blob asked for can take"))
        #expect(message.contains("http://h/r.git/git-upload-pack"))
        #expect(spooled.count < Self.pack.count)
        // At the limit exactly: taken.
        let (whole, ok, _) = try Self.run(stream, limit: ResponseLimit(bytes: stream.count, reason: "x"))
        #expect(ok)
        try whole.finish()
    }

    /// The minimum speed is measured on the pack, the part of a large side-band packet that has arrived included, and
    /// not on keep-alives (empty channel-1 packets) or progress.
    @Test func payloadBytesAreThePacksAsTheyArrive() throws {
        let directory = try TemporaryDirectory(prefix: "spool")
        let sink = try PackSpoolSink(path: directory.appending("pack"), url: "u", notice: { _ in })
        #expect(sink.begin(status: 200, headers: Self.resultType))
        func feed(_ bytes: [UInt8]) { #expect(bytes.withUnsafeBytes { sink.write($0) }) }
        feed(PktLine.encode("packfile\n") + Self.band(1, []) + Self.band(1, []) + Self.band(2, Array("50%".utf8)))
        #expect(sink.payloadBytes == 0)
        let packet = Self.band(1, Self.pack)
        feed(Array(packet[..<20]))
        #expect(sink.payloadBytes == 15, "15 bytes of a packet still arriving")
        feed(Array(packet[20...]))
        #expect(sink.payloadBytes == Self.pack.count)
    }

    @Test func aWrongContentTypeIsRefused() throws {
        let directory = try TemporaryDirectory(prefix: "spool")
        let sink = try PackSpoolSink(path: directory.appending("p"), url: "u") { _ in }
        #expect(!sink.begin(status: 200, headers: HTTPHeaders([HTTPHeader("Content-Type", "text/html")])))
        #expect(sink.failure?.message.contains("text/html") == true)
        // The header is the server's text: escaped.
        let odd = try PackSpoolSink(path: directory.appending("q"), url: "u") { _ in }
        #expect(!odd.begin(status: 200, headers: HTTPHeaders([HTTPHeader("Content-Type", "text/\u{1B}[2Jhtml")])))
        #expect(odd.failure?.message.contains("'text/\\x1b[2Jhtml'") == true, "\(String(describing: odd.failure))")
    }
}
