/// Git's delta format: how an OFS_DELTA or REF_DELTA entry rebuilds an object from its base.
///
/// The instructions start with the base's size and the result's size (little-endian 7-bit varints), then ops:
/// `1xxxxxxx` copies from the base (bits 0-3 say which offset bytes follow, bits 4-6 which size bytes; a size
/// of 0 means 0x10000), `0nnnnnnn` with n in 1...127 inserts the next n bytes, and `00000000` is invalid.
enum Delta {
    /// The result of applying `delta` to `base`. Throws a ``PackProblem`` (`.integrity`) naming the defect.
    static func apply(_ delta: [UInt8], to base: [UInt8]) throws -> [UInt8] {
        var i = 0
        func varint(_ what: String) throws -> Int {
            var value = 0
            var shift = 0
            while true {
                guard i < delta.count else { throw PackProblem(.integrity, "the delta ends inside its \(what)") }
                guard shift <= 56 else { throw PackProblem(.integrity, "the delta's \(what) is too large") }
                let byte = delta[i]
                i += 1
                value |= Int(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { return value }
            }
        }
        let sourceSize = try varint("base size")
        guard sourceSize == base.count else {
            throw PackProblem(
                .integrity, "the delta expects a base of \(sourceSize) bytes but its base has \(base.count)")
        }
        let targetSize = try varint("result size")
        var out: [UInt8] = []
        out.reserveCapacity(min(targetSize, 64 << 20))
        while i < delta.count {
            let op = delta[i]
            i += 1
            if op & 0x80 != 0 {
                var offset = 0
                var size = 0
                for bit in 0..<7 where op & (1 << bit) != 0 {
                    guard i < delta.count else { throw PackProblem(.integrity, "the delta ends inside a copy op") }
                    if bit < 4 {
                        offset |= Int(delta[i]) << (8 * bit)
                    } else {
                        size |= Int(delta[i]) << (8 * (bit - 4))
                    }
                    i += 1
                }
                if size == 0 { size = 0x10000 }
                guard offset + size <= base.count else {
                    throw PackProblem(
                        .integrity,
                        "a delta copy op reads bytes \(offset)..<\(offset + size), past the end of its \(base.count)-byte base"
                    )
                }
                guard out.count + size <= targetSize else {
                    throw PackProblem(.integrity, "the delta produces more than its declared \(targetSize) bytes")
                }
                out.append(contentsOf: base[offset..<(offset + size)])
            } else if op != 0 {
                let count = Int(op)
                guard i + count <= delta.count else {
                    throw PackProblem(.integrity, "the delta ends inside an insert op")
                }
                guard out.count + count <= targetSize else {
                    throw PackProblem(.integrity, "the delta produces more than its declared \(targetSize) bytes")
                }
                out.append(contentsOf: delta[i..<(i + count)])
                i += count
            } else {
                throw PackProblem(.integrity, "the delta has an invalid op 0 at byte \(i - 1)")
            }
        }
        guard out.count == targetSize else {
            throw PackProblem(
                .integrity, "the delta produces \(out.count) bytes, not its declared result size \(targetSize)")
        }
        return out
    }
}
