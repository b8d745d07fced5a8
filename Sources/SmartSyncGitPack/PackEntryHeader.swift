import SmartSyncGitObjects

/// The header of one pack entry: its type, the declared size of its (inflated) data, and for deltas the base.
///
/// Layout (gitformat-pack): a byte `1TTTSSSS` then, while the high bit is set, bytes `1SSSSSSS` / `0SSSSSSS`
/// adding 7 size bits each (little-endian); an OFS_DELTA follows with the base's negative offset, a REF_DELTA
/// with the base's 20-byte id. The zlib stream comes next.
struct PackEntryHeader: Sendable, Equatable {
    /// Where an entry's delta base is.
    enum Base: Sendable, Equatable {
        /// An earlier entry of the same pack, at this absolute offset (OFS_DELTA).
        case offset(Int)
        /// An object by id: in the same pack or, for a thin pack, already in the store (REF_DELTA).
        case id(ObjectID)
    }

    /// The object's kind for a whole object, nil for a delta.
    var kind: ObjectKind?
    /// The size of the inflated data: the object for a whole object, the delta instructions for a delta.
    var size: Int
    /// The delta base, nil for a whole object.
    var base: Base?

    /// Reads the header of the entry that starts at `input.offset`.
    static func read(from input: PackInput) throws -> PackEntryHeader {
        let entryOffset = input.offset
        guard var byte = try input.readByte() else { throw PackProblem.truncated("an entry header") }
        guard let type = PackEntryType(rawValue: (byte >> 4) & 7) else {
            throw PackProblem("unknown object type \((byte >> 4) & 7) (valid: 1-4 objects, 6 OFS_DELTA, 7 REF_DELTA)")
        }
        var size = Int(byte & 0x0F)
        var shift = 4
        while byte & 0x80 != 0 {
            guard let next = try input.readByte() else { throw PackProblem.truncated("an entry header") }
            guard shift <= 56 else { throw PackProblem("the entry's size field is too long") }
            byte = next
            size |= Int(byte & 0x7F) << shift
            shift += 7
        }
        var header = PackEntryHeader(kind: type.kind, size: size, base: nil)
        if type == .ofsDelta {
            let distance = try readOffset(from: input)
            guard distance > 0, distance <= entryOffset - 12 else {
                throw PackProblem("OFS_DELTA base offset -\(distance) points outside the pack's entries")
            }
            header.base = .offset(entryOffset - distance)
        } else if type == .refDelta {
            guard let bytes = try input.read(count: 20) else { throw PackProblem.truncated("a REF_DELTA base id") }
            header.base = .id(ObjectID(bytes: bytes)!)
        }
        return header
    }

    /// The OFS_DELTA distance: big-endian 7-bit groups where each continuation adds one before shifting
    /// (so every distance has exactly one encoding).
    private static func readOffset(from input: PackInput) throws -> Int {
        guard var byte = try input.readByte() else { throw PackProblem.truncated("an OFS_DELTA offset") }
        var distance = Int(byte & 0x7F)
        while byte & 0x80 != 0 {
            guard let next = try input.readByte() else { throw PackProblem.truncated("an OFS_DELTA offset") }
            guard distance < (Int.max >> 8) else { throw PackProblem("the OFS_DELTA offset is too large") }
            byte = next
            distance = ((distance + 1) << 7) | Int(byte & 0x7F)
        }
        return distance
    }
}

/// The type numbers of pack entries; 0 and 5 are reserved.
enum PackEntryType: UInt8, Sendable {
    case commit = 1, tree = 2, blob = 3, tag = 4, ofsDelta = 6, refDelta = 7

    /// The object kind of a whole object, nil for the delta types.
    var kind: ObjectKind? {
        switch self {
        case .commit: .commit
        case .tree: .tree
        case .blob: .blob
        case .tag: .tag
        case .ofsDelta, .refDelta: nil
        }
    }
}
