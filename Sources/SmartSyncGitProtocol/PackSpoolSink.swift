import FoundationEssentials
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncTransfer

/// Reads a protocol v2 `fetch` response as it arrives: the sections before the pack are parsed, and the
/// `packfile` section's side-band channel 1 is `pwrite`n to the spool file in place, on the engine's thread.
/// Channel 2 (progress) goes to `notice`; channel 3 and `ERR` packets end the transfer with the server's words.
///
/// Refused, ending the transfer at once: a response larger than its ``ResponseLimit``, and any byte after the final
/// flush packet (a v2 fetch response ends there).
///
/// `@unchecked Sendable`: the engine calls it from its thread while the transfer runs; the client reads it only
/// after the transfer ended. The two never overlap.
final class PackSpoolSink: TransferSink, @unchecked Sendable {
    private enum Section {
        case header, acknowledgments, shallowInfo, wantedRefs, packfileURIs, packfile, ended
    }

    private let fd: Int32
    private let path: String
    private let url: String
    private let notice: @Sendable (String) -> Void
    /// Told the spooled pack's size whenever it grows.
    private let packProgress: (@Sendable (Int) -> Void)?
    /// The most response bytes taken, if the request gives a bound.
    private let limit: ResponseLimit?
    private var decoder = PktLineDecoder()
    private var section = Section.header
    /// The first four pack bytes, to check the `PACK` signature.
    private var signature: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)

    private(set) var response = PackResponse()
    /// Progress lines shown so far.
    private var progressLines = 0
    /// The first error met (reported by the client instead of the engine's "cancelled").
    private(set) var failure: SmartSyncError?
    /// Whether the closing flush arrived.
    var isComplete: Bool { section == .ended }

    /// Creates (or truncates) the spool file at `path`.
    init(
        path: String, url: String, notice: @escaping @Sendable (String) -> Void,
        packProgress: (@Sendable (Int) -> Void)? = nil, limit: ResponseLimit? = nil
    ) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path, hint: "check the pack spool directory") }
        self.path = path
        self.url = url
        self.notice = notice
        self.packProgress = packProgress
        self.limit = limit
    }

    /// The pack's bytes, those of a side-band packet still arriving included: the minimum speed applies once they
    /// flow, not to the keep-alives (empty channel-1 packets) or progress a server sends while it prepares the pack.
    var payloadBytes: Int? {
        let partial = decoder.partialPacket
        guard section == .packfile, partial.count > 5, partial[partial.startIndex + 4] == 1 else {
            return response.packBytes
        }
        return response.packBytes + partial.count - 5
    }

    deinit { close(fd) }

    func begin(status: Int, headers: HTTPHeaders) -> Bool {
        let type = headers["content-type"] ?? ""
        guard type.hasPrefix("application/x-git-upload-pack-result") else {
            failure = SmartSyncError(
                .malformedResponse,
                "\(url) answered the fetch with Content-Type '\(EscapedText.excerpt(type))', not "
                    + "application/x-git-upload-pack-result")
            return false
        }
        return true
    }

    func write(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard section != .ended else {
            failure = trailingBytes()
            return false
        }
        if let limit, chunk.count > limit.bytes - response.responseBytes {
            failure = SmartSyncError(
                .malformedResponse,
                "the fetch response from \(url) is larger than the \(ByteCount.text(limit.bytes)) (\(limit.bytes) "
                    + "bytes) that \(limit.reason) can take; it was refused after \(response.responseBytes) bytes")
            return false
        }
        response.responseBytes += chunk.count
        do {
            try decoder.feed(chunk) { try handle($0) }
            // The final flush, then the start of something more in the same chunk.
            if section == .ended && !decoder.isAtBoundary { throw trailingBytes() }
            return true
        } catch let error as SmartSyncError {
            // Bytes after the final flush that are not even pkt-lines: still bytes after the final flush.
            failure = section == .ended ? trailingBytes() : error
        } catch {
            failure = SmartSyncError(.internal, "reading the fetch response from \(url) failed", cause: nil)
        }
        return false
    }

    private func trailingBytes() -> SmartSyncError {
        SmartSyncError(
            .malformedResponse,
            "the fetch response from \(url) goes on after its final flush packet, where a server sends nothing more; "
                + "it was refused (the pack before it is kept)")
    }

    /// Checks the response ended properly; throws naming the URL when it did not.
    func finish() throws {
        if let failure { throw failure }
        guard isComplete else {
            let what = section == .packfile ? "the pack is cut short" : "it has no packfile section"
            throw SmartSyncError(.malformedResponse, "the fetch response from \(url) ended early: \(what)")
        }
    }

    private func handle(_ packet: PktLinePacket) throws {
        switch (section, packet) {
        case (.ended, _):
            throw trailingBytes()
        case (_, .data(let payload)) where section != .packfile && payload.starts(with: Self.errPrefix):
            let message = payload[Self.errPrefix.count...].serverMessage
            throw SmartSyncError(.sourceUnavailable, "\(url) refused the fetch: \(message)")
        case (.header, .data(let payload)):
            section = try Self.section(named: payload, url: url)
        case (.header, _):
            throw SmartSyncError(.malformedResponse, "the fetch response from \(url) has no packfile section")
        case (.packfile, .data(let payload)):
            try band(payload)
        case (.packfile, .flush):
            guard response.packBytes >= 4 else {
                throw SmartSyncError(.malformedResponse, "the packfile section from \(url) holds no pack")
            }
            section = .ended
        case (.packfile, _):
            throw SmartSyncError(
                .malformedResponse, "the packfile section from \(url) ended without its flush packet")
        case (_, .delim):
            section = .header
        case (_, .flush), (_, .responseEnd):
            throw SmartSyncError(.malformedResponse, "the fetch response from \(url) has no packfile section")
        case (.shallowInfo, .data(let payload)):
            try shallowInfo(payload)
        case (.wantedRefs, .data(let payload)):
            let fields = payload.pktText.split(separator: " ", maxSplits: 1)
            guard fields.count == 2, let id = ObjectID(hex: fields[0]) else {
                throw SmartSyncError(
                    .malformedResponse, "wanted-refs from \(url) sent '\(EscapedText.excerpt(bytes: payload.pktLine))'")
            }
            guard response.wantedRefs.count < Self.maxListed else {
                throw SmartSyncError(
                    .malformedResponse, "wanted-refs from \(url) lists more than \(Self.maxListed) refs")
            }
            response.wantedRefs[String(fields[1])] = id
        case (.acknowledgments, .data), (.packfileURIs, .data):
            break
        }
    }

    private static let errPrefix = Array("ERR ".utf8)
    /// The most `shallow-info` or `wanted-refs` lines taken from one response.
    static let maxListed = 10_000

    private static func section(named line: UnsafeRawBufferPointer, url: String) throws -> Section {
        switch line.pktText {
        case "acknowledgments": return .acknowledgments
        case "shallow-info": return .shallowInfo
        case "wanted-refs": return .wantedRefs
        case "packfile-uris": return .packfileURIs
        case "packfile": return .packfile
        default:
            throw SmartSyncError(
                .malformedResponse,
                "the fetch response from \(url) has an unknown section '\(EscapedText.excerpt(bytes: line.pktLine))'")
        }
    }

    private func shallowInfo(_ line: UnsafeRawBufferPointer) throws {
        // One line per wanted commit is what a depth-1 fetch gets; an endless list is a server gone wrong.
        guard response.shallow.count + response.unshallow.count < Self.maxListed else {
            throw SmartSyncError(
                .malformedResponse, "shallow-info from \(url) lists more than \(Self.maxListed) commits")
        }
        let fields = line.pktText.split(separator: " ")
        if fields.count == 2, let id = ObjectID(hex: fields[1]) {
            if fields[0] == "shallow" {
                response.shallow.append(id)
                return
            }
            if fields[0] == "unshallow" {
                response.unshallow.append(id)
                return
            }
        }
        throw SmartSyncError(
            .malformedResponse, "shallow-info from \(url) sent '\(EscapedText.excerpt(bytes: line.pktLine))'")
    }

    /// One side-band packet of the packfile section.
    private func band(_ payload: UnsafeRawBufferPointer) throws {
        guard let channel = payload.first else { return }
        let data = UnsafeRawBufferPointer(rebasing: payload[1...])
        switch channel {
        case 1:
            let offset = response.packBytes
            try checkSignature(data, at: offset)
            try FileSystem.pwriteAll(fd: fd, data, at: offset, path: path)
            response.packBytes += data.count
            packProgress?(response.packBytes)
        case 2:
            // Progress is not asked for (`no-progress`); what a server sends anyway is shown, up to a point.
            let text = data.serverMessage
            if !text.isEmpty && progressLines < 20 {
                progressLines += 1
                notice("remote: " + text)
            }
        case 3:
            throw SmartSyncError(.sourceUnavailable, "\(url) failed while sending the pack: \(data.serverMessage)")
        default:
            throw SmartSyncError(
                .malformedResponse, "the packfile section from \(url) used side-band channel \(channel)")
        }
    }

    /// Checks that the pack starts with `PACK` as its first four bytes arrive (possibly over several packets).
    private func checkSignature(_ data: UnsafeRawBufferPointer, at offset: Int) throws {
        guard offset < 4 else { return }
        for (i, byte) in data.prefix(4 - offset).enumerated() {
            switch offset + i {
            case 0: signature.0 = byte
            case 1: signature.1 = byte
            case 2: signature.2 = byte
            default: signature.3 = byte
            }
        }
        let have = min(4, offset + data.count)
        let expected: [UInt8] = [0x50, 0x41, 0x43, 0x4B]  // PACK
        let got = [signature.0, signature.1, signature.2, signature.3]
        guard got.prefix(have) == expected.prefix(have) else {
            throw SmartSyncError(.malformedResponse, "the pack from \(url) does not start with 'PACK'")
        }
    }
}
