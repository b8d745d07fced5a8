/// Git's delta format: how an OFS_DELTA or REF_DELTA entry rebuilds an object from its base.
///
/// The instructions start with the base's size and the result's size (little-endian 7-bit varints), then ops:
/// `1xxxxxxx` copies from the base (bits 0-3 say which offset bytes follow, bits 4-6 which size bytes; a size
/// of 0 means 0x10000), `0nnnnnnn` with n in 1...127 inserts the next n bytes, and `00000000` is invalid.
///
/// The importer applies deltas with ``DeltaApplier`` as their instructions inflate, reading the base from its file
/// and writing the result to a store writer; ``apply(_:to:)`` is the same machine over arrays (small objects, tests).
import SmartSyncCore

enum Delta {
    /// The result of applying `delta` to `base`. Throws a ``PackProblem`` (`.integrity`) naming the defect.
    static func apply(_ delta: [UInt8], to base: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        let applier = DeltaApplier(base: InMemoryDeltaBase(bytes: base), start: { _ in }, sink: { out += $0 })
        try delta.withUnsafeBytes { try applier.feed($0) }
        try applier.finish()
        return out
    }
}

/// The base object a delta's copy ops read from.
protocol DeltaBase {
    /// The base's size in bytes.
    var count: Int { get }
    /// Fills `buffer` with the base's bytes from `offset` (the caller checks the range is inside the base).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws
}

/// A base held in memory.
struct InMemoryDeltaBase: DeltaBase {
    var bytes: [UInt8]
    var count: Int { bytes.count }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        bytes.withUnsafeBytes { raw in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + buffer.count)]))
        }
    }
}

/// Applies delta instructions as they arrive, in chunks of any size: a state machine over the two size varints
/// and the ops, where an op's header, its offset and size bytes, or its inserted data may span chunks.
///
/// Memory is one fixed output buffer whatever the sizes the delta declares: copy ops read the base straight into
/// it, inserts copy into it, and it is handed to `sink` whenever it fills. Every copy is checked against the base
/// and every op against the declared result size before any byte of it is produced; ``finish()`` checks the
/// instructions ended on an op boundary and produced exactly the declared result size.
final class DeltaApplier {
    private enum State {
        case sourceSize
        case targetSize
        case op
        /// Inside a copy op: the op byte and the next of its argument bits to look at.
        case copy(op: UInt8, bit: Int)
        /// Inside an insert op: bytes still to insert.
        case insert(remaining: Int)
    }

    private let base: any DeltaBase
    private let start: (Int) throws -> Void
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private let output: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private var state = State.sourceSize
    private var varint = 0
    private var shift = 0
    private var copyOffset = 0
    private var copySize = 0
    /// Instruction bytes consumed so far (to name where a bad op is).
    private var consumed = 0
    /// The declared result size (valid once `start` was called).
    private(set) var targetSize = 0
    /// Result bytes produced so far (handed to `sink` or buffered).
    private(set) var produced = 0

    /// - Parameters:
    ///   - base: what copy ops read; its size must equal the size the delta declares for its base.
    ///   - start: called once with the declared result size, before any output.
    ///   - sink: receives the result in chunks of at most `chunk` bytes.
    init(
        base: any DeltaBase, chunk: Int = 256 * 1024, start: @escaping (Int) throws -> Void,
        sink: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) {
        self.base = base
        self.start = start
        self.sink = sink
        output = .allocate(byteCount: chunk, alignment: 16)
    }

    deinit { output.deallocate() }

    /// Consumes the next chunk of instructions, producing what they say.
    func feed(_ chunk: UnsafeRawBufferPointer) throws {
        var i = 0
        while i < chunk.count {
            switch state {
            case .sourceSize, .targetSize:
                guard shift <= 56 else { throw integrity("the delta's \(varintName) is too large") }
                let byte = chunk[i]
                i += 1
                consumed += 1
                varint |= Int(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { try endVarint() }
            case .op:
                let op = chunk[i]
                i += 1
                consumed += 1
                if op & 0x80 != 0 {
                    copyOffset = 0
                    copySize = 0
                    try nextCopyArgument(op: op, from: 0)
                } else if op != 0 {
                    try checkRoom(Int(op))
                    state = .insert(remaining: Int(op))
                } else {
                    throw integrity("the delta has an invalid op 0 at byte \(consumed - 1)")
                }
            case .copy(let op, let bit):
                let byte = Int(chunk[i])
                i += 1
                consumed += 1
                if bit < 4 {
                    copyOffset |= byte << (8 * bit)
                } else {
                    copySize |= byte << (8 * (bit - 4))
                }
                try nextCopyArgument(op: op, from: bit + 1)
            case .insert(let remaining):
                let n = min(remaining, chunk.count - i)
                try emit(UnsafeRawBufferPointer(rebasing: chunk[i..<(i + n)]))
                i += n
                consumed += n
                state = n == remaining ? .op : .insert(remaining: remaining - n)
            }
        }
    }

    /// Checks the instructions are complete and produced exactly the declared result, and flushes the output.
    func finish() throws {
        switch state {
        case .sourceSize, .targetSize: throw integrity("the delta ends inside its \(varintName)")
        case .copy: throw integrity("the delta ends inside a copy op")
        case .insert: throw integrity("the delta ends inside an insert op")
        case .op: break
        }
        try flush()
        guard produced == targetSize else {
            throw integrity("the delta produces \(produced) bytes, not its declared result size \(targetSize)")
        }
    }

    private var varintName: String {
        if case .sourceSize = state { return "base size" }
        return "result size"
    }

    private func endVarint() throws {
        let value = varint
        varint = 0
        shift = 0
        if case .sourceSize = state {
            guard value == base.count else {
                throw integrity("the delta expects a base of \(value) bytes but its base has \(base.count)")
            }
            state = .targetSize
        } else {
            guard value >= 0 else { throw integrity("the delta's result size is too large") }
            targetSize = value
            state = .op
            try start(value)
        }
    }

    /// Moves to the copy op's next argument byte at or after `bit`, or runs the copy when there is none.
    private func nextCopyArgument(op: UInt8, from bit: Int) throws {
        var bit = bit
        while bit < 7 && op & (1 << bit) == 0 { bit += 1 }
        if bit < 7 {
            state = .copy(op: op, bit: bit)
            return
        }
        state = .op
        try copy(offset: copyOffset, size: copySize == 0 ? 0x10000 : copySize)
    }

    private func copy(offset: Int, size: Int) throws {
        guard offset + size <= base.count else {
            throw integrity(
                "a delta copy op reads bytes \(offset)..<\(offset + size), past the end of its \(base.count)-byte base")
        }
        try checkRoom(size)
        var done = 0
        while done < size {
            if buffered == output.count { try flush() }
            let n = min(size - done, output.count - buffered)
            try base.read(
                into: UnsafeMutableRawBufferPointer(rebasing: output[buffered..<(buffered + n)]), at: offset + done)
            buffered += n
            produced += n
            done += n
        }
    }

    private func checkRoom(_ count: Int) throws {
        guard produced + count <= targetSize else {
            throw integrity("the delta produces more than its declared \(targetSize) bytes")
        }
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            if buffered == output.count { try flush() }
            let n = min(bytes.count - done, output.count - buffered)
            UnsafeMutableRawBufferPointer(rebasing: output[buffered..<(buffered + n)]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: bytes[done..<(done + n)]))
            buffered += n
            produced += n
            done += n
        }
    }

    private func flush() throws {
        guard buffered > 0 else { return }
        let count = buffered
        buffered = 0
        try sink(UnsafeRawBufferPointer(rebasing: output[0..<count]))
    }

    private func integrity(_ text: String) -> PackProblem { PackProblem(.integrity, text) }
}
