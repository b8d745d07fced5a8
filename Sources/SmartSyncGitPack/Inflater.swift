import CZlib

/// zlib inflate over a ``PackInput``: one stream per pack entry, stopping exactly where the stream ends so the
/// next entry's header follows.
///
/// The `z_stream` lives at a fixed heap address (zlib keeps a pointer back to it); `deinit` calls `inflateEnd`.
final class Inflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer

    init(chunk: Int = 256 * 1024) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(byteCount: chunk, alignment: 16)
        let status = smart_sync_inflate_init(stream)
        precondition(status == Z_OK, "inflateInit failed (\(status)): out of memory")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        output.deallocate()
    }

    /// Inflates the stream at `input.offset`, handing the output to `sink` in chunks, and consumes exactly the
    /// stream's bytes from `input`. The output must be exactly `size` bytes.
    func inflate(from input: PackInput, size: Int, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard inflateReset(stream) == Z_OK else { throw PackProblem("zlib could not reset its stream") }
        var produced = 0
        while true {
            if input.available.isEmpty, try !input.fill() {
                throw PackProblem.truncated("a zlib stream (\(produced) of \(size) bytes inflated)")
            }
            let available = input.available
            let next = available.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.next_in = UnsafeMutablePointer(mutating: next)
            let offered = min(available.count, Int(UInt32.max))
            stream.pointee.avail_in = uInt(offered)
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(output.count)
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            let consumed = offered - Int(stream.pointee.avail_in)
            let count = output.count - Int(stream.pointee.avail_out)
            stream.pointee.next_in = nil
            input.consume(consumed)
            switch status {
            case Z_OK, Z_STREAM_END, Z_BUF_ERROR:
                break
            case Z_NEED_DICT:
                throw PackProblem("the zlib stream asks for a preset dictionary, which packs never use")
            default:
                let reason = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                throw PackProblem("the zlib stream is corrupt (zlib: \(reason))")
            }
            guard produced + count <= size else {
                throw PackProblem("the entry inflates to more than its declared \(size) bytes")
            }
            if count > 0 { try sink(UnsafeRawBufferPointer(rebasing: output[0..<count])) }
            produced += count
            if status == Z_STREAM_END { break }
            if status == Z_BUF_ERROR && consumed == 0 && count == 0 && !input.available.isEmpty {
                throw PackProblem("the zlib stream makes no progress")
            }
        }
        guard produced == size else {
            throw PackProblem("the entry inflates to \(produced) bytes, not its declared \(size)")
        }
    }
}
