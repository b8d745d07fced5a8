import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// A mirror's pack spool, fed by hand.
@Suite struct MirrorPackSpoolTests {
    /// A resumed pack answered with a `206` whose `Content-Range` is not the kept bytes' end (5,000 bytes of it, a
    /// control byte first): the spool empties and asks again, and the header, the server's text, is quoted escaped and
    /// cut at 200 bytes, not whole.
    @Test func aResumesContentRangeThatIsNotTheOffsetIsEscapedAndCut() throws {
        let directory = try TemporaryDirectory(prefix: "mirror-spool")
        let path = directory.appending("pack")
        let url = "http://mirror.invalid/m/packs/x.pack"
        try TestFiles.write(path, bytes: [UInt8](repeating: 7, count: 100))
        try MirrorPackResumeTests.writeMeta(path, url: url, validator: "\"v1\"")
        let spool = try #require(try MirrorPackSpool(path: path))
        let asked = try spool.prepare(url: url)
        #expect(asked.contains(HTTPHeader("Range", "bytes=100-")), "\(asked)")
        let range = "\u{1B}" + String(repeating: "r", count: 4999)
        #expect(!spool.begin(status: 206, headers: HTTPHeaders([HTTPHeader("Content-Range", range)])))
        #expect(spool.askAgain && spool.keptBytes == 0)
        let message = spool.failure?.message ?? ""
        let shown = "bytes 100- with Content-Range '\\x1b" + String(repeating: "r", count: 199) + "…(4800 bytes more)'"
        #expect(message.contains(shown), "\(message)")
        #expect(message.utf8.count < 400, "\(message.utf8.count) bytes")
    }
}
