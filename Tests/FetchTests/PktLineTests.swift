import Foundation
import SmartSyncCore
import SmartSyncGitProtocol
import Testing

@testable import SmartSyncFetch

/// Git's pkt-line framing, encoded and decoded.
struct PktLineTests {
    /// A decoded packet, copied out of the decoder's callback.
    enum Packet: Equatable {
        case data([UInt8])
        case flush, delim, responseEnd
    }

    static func decode(_ chunks: [ArraySlice<UInt8>]) throws -> ([Packet], Bool) {
        var decoder = PktLineDecoder()
        var packets: [Packet] = []
        for chunk in chunks {
            try Array(chunk).withUnsafeBytes { raw in
                try decoder.feed(raw) { packet in
                    switch packet {
                    case .data(let payload): packets.append(.data(Array(payload)))
                    case .flush: packets.append(.flush)
                    case .delim: packets.append(.delim)
                    case .responseEnd: packets.append(.responseEnd)
                    }
                }
            }
        }
        return (packets, decoder.isAtBoundary)
    }

    @Test func encodesLengthsInLowerCaseHexIncludingThePrefix() {
        #expect(PktLine.encode("a\n") == Array("0006a\n".utf8))
        #expect(PktLine.encode("") == Array("0004".utf8))
        #expect(PktLine.encode("command=ls-refs\n") == Array("0014command=ls-refs\n".utf8))
        #expect(PktLine.encode(String(repeating: "x", count: 251)).prefix(4) == Array("00ff".utf8)[...])
        #expect(PktLine.flush == Array("0000".utf8))
        #expect(PktLine.delim == Array("0001".utf8))
        #expect(PktLine.responseEnd == Array("0002".utf8))
    }

    @Test func roundTripsWhateverTheChunkBoundaries() throws {
        let big = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var stream: [UInt8] = []
        stream += PktLine.encode("version 2\n")
        stream += PktLine.delim
        stream += PktLine.encode("")
        var bigPacket: [UInt8] = Array(String(format: "%04x", big.count + 4).utf8)
        bigPacket += big
        stream += bigPacket
        stream += PktLine.flush
        stream += PktLine.encode("x")
        stream += PktLine.responseEnd
        let expected: [Packet] = [
            .data(Array("version 2\n".utf8)), .delim, .data([]), .data(big), .flush, .data(Array("x".utf8)),
            .responseEnd,
        ]

        let (whole, atBoundary) = try Self.decode([stream[...]])
        #expect(whole == expected)
        #expect(atBoundary)
        // Two chunks, split at every point.
        for split in 0...stream.count {
            let (packets, boundary) = try Self.decode([stream[..<split], stream[split...]])
            #expect(packets == expected, "split at \(split)")
            #expect(boundary)
        }
        // Byte by byte, and in uneven runs.
        let single = try Self.decode(stream.indices.map { stream[$0...$0] })
        #expect(single.0 == expected)
        var runs: [ArraySlice<UInt8>] = []
        var start = 0
        var size = 1
        while start < stream.count {
            let end = min(stream.count, start + size)
            runs.append(stream[start..<end])
            start = end
            size = size * 3 % 17 + 1
        }
        #expect(try Self.decode(runs).0 == expected)
    }

    @Test func aPartialPacketIsHeldUntilItsRestArrives() throws {
        let stream = PktLine.encode("hello\n")
        let (packets, boundary) = try Self.decode([stream[..<6]])
        #expect(packets.isEmpty)
        #expect(!boundary)
    }

    @Test(arguments: ["0003", "zzzz", "00g0", "fff1", "ffff", " 004"])
    func badLengthsAreRejected(_ prefix: String) throws {
        let stream = Array((prefix + "more bytes").utf8)
        let error = #expect(throws: SmartSyncError.self) { try Self.decode([stream[...]]) }
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("pkt-line") == true)
        // The same when the prefix arrives a byte at a time.
        #expect(throws: SmartSyncError.self) { try Self.decode(stream.indices.map { stream[$0...$0] }) }
    }

    @Test func theLargestPacketIsAccepted() throws {
        var packet = Array("fff0".utf8)
        packet += [UInt8](repeating: 0x41, count: PktLine.maxPayloadLength)
        let (packets, _) = try Self.decode([packet[...]])
        #expect(packets == [.data([UInt8](repeating: 0x41, count: PktLine.maxPayloadLength))])
    }
}
