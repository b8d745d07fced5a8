import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncObjectStore
import TestSupport
import Testing

/// Damaged packs: each import throws an error naming the problem, the entry's offset and the pack, and leaves
/// only correctly hashed objects (and no temporaries) in the store.
@Suite struct PackCorruptionTests {
    let fixture: PackFixture
    let pack: [UInt8]
    let entries: [PackEntryInfo]

    init() throws {
        fixture = try PackFixture(commits: 3)
        let path = try fixture.pack(["--all"], name: "good")
        pack = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        entries = try fixture.entries(ofPack: path)
    }

    /// Imports `bytes` as a pack into a fresh store; returns the error, the store and the pack's path.
    private func importBroken(_ bytes: [UInt8], _ name: String) throws -> (SmartSyncError, ObjectStore, String) {
        let path = fixture.scratch.appending(name + ".pack")
        try PackBuilder.write(bytes, to: path)
        let store = try fixture.makeStore(name)
        let error = try #require(throws: SmartSyncError.self) {
            try PackImporter(store: store).importPack(atPath: path)
        }
        #expect(error.message.contains(path))
        #expect(try StoreAudit.problems(in: store) == [])
        return (error, store, path)
    }

    @Test func flippedByteInZlibStream() throws {
        let victim = try #require(entries.first { !$0.isDelta && $0.type == "blob" && $0.packedSize > 40 })
        var bytes = pack
        bytes[victim.offset + victim.packedSize / 2] ^= 0x55
        let (error, store, _) = try importBroken(bytes, "flipped")
        #expect(error.message.contains("offset \(victim.offset)"))
        #expect(error.message.contains("zlib") || error.message.contains("inflates"))
        // Entries before the damaged one were stored.
        for e in entries where e.offset < victim.offset { #expect(store.contains(e.id)) }
    }

    @Test func unknownObjectType() throws {
        let victim = entries[entries.count / 2]
        var bytes = pack
        bytes[victim.offset] = (bytes[victim.offset] & 0x8F) | (5 << 4)
        let (error, _, _) = try importBroken(bytes, "type5")
        #expect(error.code == .malformedResponse)
        #expect(error.message.contains("unknown object type 5"))
        #expect(error.message.contains("offset \(victim.offset)"))
    }

    @Test(arguments: [2, 10, 13, -1, -15, -21, -20])
    func truncated(at cut: Int) throws {
        // Negative cuts count from the end; -1 is the middle of the pack's largest entry.
        let length: Int
        switch cut {
        case -1:
            let e = entries.max { $0.packedSize < $1.packedSize }!
            length = e.offset + e.packedSize / 2
        case ..<0: length = pack.count + cut
        default: length = cut
        }
        let (error, store, _) = try importBroken(Array(pack.prefix(length)), "cut\(cut)")
        #expect(error.message.contains("truncated"), "\(error.message)")
        // Truncation keeps every entry that ended before the cut.
        for e in entries where e.offset + e.packedSize <= length { #expect(store.contains(e.id)) }
    }

    @Test func brokenTrailer() throws {
        var bytes = pack
        bytes[bytes.count - 1] ^= 0x01
        let (error, store, _) = try importBroken(bytes, "trailer")
        #expect(error.code == .integrity)
        #expect(error.message.contains("trailer"))
        #expect(error.message.contains("offset \(pack.count - 20)"))
        // The objects themselves are each verified by their own id and kept.
        for e in entries { #expect(store.contains(e.id)) }
    }

    @Test func fewerEntriesThanTheHeaderSays() throws {
        var bytes = pack
        bytes[11] &+= 1
        let (error, _, _) = try importBroken(PackBuilder.retrailed(bytes), "fewer")
        #expect(error.message.contains("entry \(entries.count + 1) of \(entries.count + 1)"), "\(error.message)")
        #expect(error.message.contains("fewer entries than its header says"))
    }

    @Test func moreEntriesThanTheHeaderSays() throws {
        var bytes = pack
        bytes[11] &-= 1
        let (error, _, _) = try importBroken(PackBuilder.retrailed(bytes), "more")
        #expect(error.message.contains("more than the \(entries.count - 1) entries"), "\(error.message)")
    }

    @Test func notAPack() throws {
        let (error, _, _) = try importBroken(Array("PACX".utf8) + Array(pack.dropFirst(4)), "magic")
        #expect(error.message.contains("not a git pack"))
    }
}

/// Hand-made deltas that git would never write.
@Suite struct BadDeltaTests {
    let scratch: TemporaryDirectory
    let base = Array("hello world".utf8)

    init() throws { scratch = try TemporaryDirectory(prefix: "gitpack-delta") }

    /// Writes a pack of `entries` and makes an empty store for it.
    private func prepare(_ entries: [[UInt8]], _ name: String) throws -> (path: String, store: ObjectStore) {
        let path = scratch.appending(name + ".pack")
        try PackBuilder.write(PackBuilder.pack(entries), to: path)
        return (path, try ObjectStore(root: scratch.appending("store-" + name)))
    }

    /// The base blob and a REF_DELTA on it.
    private func baseAndDelta(_ delta: [UInt8]) -> [[UInt8]] {
        [PackBuilder.entry(type: 3, base), PackBuilder.entry(type: 7, delta, base: ObjectID.blob(base))]
    }

    private func importBroken(_ delta: [UInt8], _ name: String) throws -> (SmartSyncError, ObjectStore) {
        let baseID = ObjectID.blob(base)
        let (path, store) = try prepare(baseAndDelta(delta), name)
        let error = try #require(throws: SmartSyncError.self) {
            try PackImporter(store: store).importPack(atPath: path)
        }
        #expect(error.code == .integrity)
        #expect(error.message.contains(path))
        #expect(error.message.contains("offset \(12 + PackBuilder.entry(type: 3, base).count)"))
        #expect(store.contains(baseID))
        #expect(try StoreAudit.count(in: store) == 1)
        #expect(try StoreAudit.problems(in: store) == [])
        return (error, store)
    }

    @Test func goodDeltaIsApplied() throws {
        let delta: [UInt8] = [11, 8, 0x80 | 0x10, 5, 3] + Array("!!!".utf8)
        let (path, store) = try prepare(baseAndDelta(delta), "good")
        let report = try PackImporter(store: store).importPack(atPath: path)
        #expect(report.objects == 2)
        #expect(report.deltas == 1)
        #expect(report.ids == [.blob: 2])
        #expect(try store.read(ObjectID.blob(Array("hello!!!".utf8))) == Array("hello!!!".utf8))
    }

    /// A REF_DELTA before its base, and an OFS_DELTA on that delta: both wait for the pass to end, then resolve.
    @Test func deltasBeforeTheirBaseResolveAfterThePass() throws {
        let first = [11, 8, 0x80 | 0x10, 5, 3] + Array("!!!".utf8)  // "hello!!!"
        let second: [UInt8] = [8, 7, 0x80 | 0x10, 5, 2] + Array("??".utf8)  // "hello??"
        let refDelta = PackBuilder.entry(type: 7, first, base: ObjectID.blob(base))
        // Distances over 127 take the two-byte encoding; pad with a blob so the OFS_DELTA sits far enough away.
        let padding = PackBuilder.entry(type: 3, [UInt8](repeating: 0x2A, count: 200))
        let ofsDelta = PackBuilder.entry(type: 6, second, distance: refDelta.count + padding.count)
        let (path, store) = try prepare([refDelta, padding, ofsDelta, PackBuilder.entry(type: 3, base)], "later")
        let report = try PackImporter(store: store).importPack(atPath: path)
        #expect(report.objects == 4)
        #expect(report.deltas == 2)
        #expect(report.externalBases == 0)
        #expect(try store.read(ObjectID.blob(Array("hello??".utf8))) == Array("hello??".utf8))
        #expect(try StoreAudit.problems(in: store) == [])
    }

    @Test func copyPastTheBase() throws {
        // Copy 10 bytes from offset 8 of an 11-byte base.
        let (error, _) = try importBroken([11, 10, 0x80 | 0x01 | 0x10, 8, 10], "copy")
        #expect(error.message.contains("past the end of its 11-byte base"))
    }

    @Test func resultSizeMismatch() throws {
        let (error, _) = try importBroken([11, 20, 0x80 | 0x10, 5], "size")
        #expect(error.message.contains("not its declared result size 20"))
    }

    @Test func opZero() throws {
        let (error, _) = try importBroken([11, 5, 0], "op0")
        #expect(error.message.contains("invalid op 0"))
    }

    @Test func wrongBaseSize() throws {
        let (error, _) = try importBroken([12, 5, 0x80 | 0x10, 5], "basesize")
        #expect(error.message.contains("expects a base of 12 bytes"))
    }
}
