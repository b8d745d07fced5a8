import SmartSyncCore

/// Git's pkt-line framing (`gitprotocol-common`): a data packet is 4 hexadecimal digits giving its length
/// (the 4 included) followed by the payload; `0000` is a flush, `0001` a delimiter and `0002` a response end.
public enum PktLine {
    /// The largest packet, length prefix included (`LARGE_PACKET_MAX`).
    public static let maxPacketLength = 65520
    /// The largest payload of one data packet.
    public static let maxPayloadLength = maxPacketLength - 4

    /// `0000`: ends a message (or a list).
    public static let flush: [UInt8] = Array("0000".utf8)
    /// `0001`: separates the sections of a protocol v2 command or response.
    public static let delim: [UInt8] = Array("0001".utf8)
    /// `0002`: ends a stateless v2 response.
    public static let responseEnd: [UInt8] = Array("0002".utf8)

    /// Frames the exact bytes of `line` (give the trailing `\n` yourself, as git does).
    public static func encode(_ line: String) -> [UInt8] {
        var out: [UInt8] = []
        append(line, to: &out)
        return out
    }

    /// Appends `line` framed as one data packet to `out`.
    public static func append(_ line: String, to out: inout [UInt8]) {
        let payload = line.utf8
        precondition(payload.count <= maxPayloadLength, "a pkt-line payload is at most \(maxPayloadLength) bytes")
        let length = payload.count + 4
        let digits = Array("0123456789abcdef".utf8)
        for shift in [12, 8, 4, 0] { out.append(digits[(length >> shift) & 0xF]) }
        out.append(contentsOf: payload)
    }
}

/// One decoded packet. A data payload points into the decoder's input or buffer and is valid only inside the
/// callback that receives it: copy it (`Array(payload)`) to keep it.
public enum PktLinePacket {
    case data(UnsafeRawBufferPointer)
    case flush
    case delim
    case responseEnd
}

extension UnsafeRawBufferPointer {
    /// The packet's bytes without its trailing `\n` (how git's text packets end): what ``pktText`` decodes, and what a
    /// message quotes of a malformed line (`EscapedText.excerpt(bytes:)`, so that invalid UTF-8 shows as `\xNN`
    /// rather than as the U+FFFD a decoded text has in its place).
    var pktLine: Slice<UnsafeRawBufferPointer> {
        var bytes = self[...]
        if bytes.last == UInt8(ascii: "\n") { bytes = bytes.dropLast() }
        return bytes
    }

    /// The packet as text to parse (``pktLine`` decoded). Not for a message: a message quotes ``serverMessage``, or
    /// ``pktLine``'s bytes through `EscapedText`.
    var pktText: String { String(decoding: pktLine, as: UTF8.self) }
}

extension Collection<UInt8> {
    /// Server text for a message or a log line (an `ERR` packet's, side-band progress or error, an HTTP error body):
    /// each run of ASCII white space (space, tab, CR, LF) one space, none at the ends (an nginx error page is mostly
    /// CR LF and indentation, which escaped would fill the excerpt with `\x0d\x0a`), then escaped and cut
    /// (`EscapedText.excerpt(bytes:)`), so that no escape sequence, C1 control or bidirectional override reaches the
    /// operator's terminal and no flood does.
    var serverMessage: String {
        var text: [UInt8] = []
        var spaced = false
        for byte in self {
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                spaced = !text.isEmpty
                continue
            }
            if spaced { text.append(0x20) }
            spaced = false
            text.append(byte)
        }
        return EscapedText.excerpt(bytes: text)
    }
}

/// Splits a byte stream into pkt-line packets, whatever the chunk boundaries.
///
/// A packet wholly inside one chunk is handed over in place; only a packet that straddles chunks is copied,
/// into one buffer kept (and reused) for the decoder's life, so decoding allocates nothing per chunk.
public struct PktLineDecoder {
    /// The length prefix being read (up to 4 bytes) or the packet being assembled across chunks.
    private var pending: [UInt8] = []
    /// The total length of the packet in `pending`, once its prefix is complete.
    private var pendingLength = 0

    public init() {
        pending.reserveCapacity(64)
    }

    /// True when no partial packet is held: the input so far ended on a packet boundary.
    public var isAtBoundary: Bool { pending.isEmpty }

    /// The partial packet held (its length prefix included), waiting for the rest: how far a large packet has come.
    public var partialPacket: ArraySlice<UInt8> { pending[...] }

    /// Feeds the next bytes of the stream; calls `body` for every packet they complete, in order.
    ///
    /// - Throws: `.malformedResponse` for a length that is not 4 hexadecimal digits, is `0003`, or exceeds
    ///   ``PktLine/maxPacketLength``; whatever `body` throws.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ body: (PktLinePacket) throws -> Void) throws {
        var index = 0
        let count = bytes.count
        // Finish the packet that the previous chunk left incomplete.
        while !pending.isEmpty && index < count {
            if pending.count < 4 {
                pending.append(bytes[index])
                index += 1
                if pending.count == 4 {
                    let length = try Self.length(pending[0], pending[1], pending[2], pending[3])
                    if length < 4 {
                        pending.removeAll(keepingCapacity: true)
                        try body(Self.control(length))
                        break
                    }
                    pendingLength = length
                    if length == 4 {
                        pending.removeAll(keepingCapacity: true)
                        try body(.data(UnsafeRawBufferPointer(start: nil, count: 0)))
                        break
                    }
                    pending.reserveCapacity(length)
                }
                continue
            }
            let take = min(pendingLength - pending.count, count - index)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<index + take]))
            index += take
            if pending.count == pendingLength {
                try pending.withUnsafeBytes { try body(.data(UnsafeRawBufferPointer(rebasing: $0[4...]))) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        // Whole packets in place.
        while count - index >= 4 {
            let length = try Self.length(bytes[index], bytes[index + 1], bytes[index + 2], bytes[index + 3])
            if length < 4 {
                index += 4
                try body(Self.control(length))
                continue
            }
            guard count - index >= length else { break }
            try body(.data(UnsafeRawBufferPointer(rebasing: bytes[index + 4..<index + length])))
            index += length
        }
        // Keep the start of a packet that continues in the next chunk.
        if index < count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[index..<count])
            pending.append(contentsOf: rest)
            if rest.count >= 4 {
                pendingLength = try Self.length(rest[0], rest[1], rest[2], rest[3])
                pending.reserveCapacity(pendingLength)
            }
        }
    }

    private static func control(_ length: Int) throws -> PktLinePacket {
        switch length {
        case 0: return .flush
        case 1: return .delim
        case 2: return .responseEnd
        default:
            throw SmartSyncError(
                .malformedResponse, "the server sent a pkt-line of length \(length) (0003 is never valid)")
        }
    }

    @inline(__always)
    private static func nibble(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    private static func length(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) throws -> Int {
        guard let n0 = nibble(a), let n1 = nibble(b), let n2 = nibble(c), let n3 = nibble(d) else {
            let shown = String(
                decoding: [a, b, c, d].map { (32..<127).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            throw SmartSyncError(
                .malformedResponse,
                "the server sent '\(shown)' where a pkt-line length (4 hexadecimal digits) was expected; "
                    + "it does not speak git's smart protocol here")
        }
        let value = n0 << 12 | n1 << 8 | n2 << 4 | n3
        if value == 3 {
            throw SmartSyncError(.malformedResponse, "the server sent a pkt-line of length 0003, which is never valid")
        }
        guard value <= PktLine.maxPacketLength else {
            throw SmartSyncError(
                .malformedResponse,
                "the server sent a pkt-line of \(value) bytes; the largest allowed is \(PktLine.maxPacketLength)")
        }
        return value
    }
}
