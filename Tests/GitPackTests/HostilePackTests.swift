import CZlib
import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncObjectStore
import TestSupport
import Testing

/// Packs built to exhaust memory, time or stack: the importer's cost must not follow what the pack declares.
@Suite(.serialized) struct HostilePackTests {
    let scratch: TemporaryDirectory

    init() throws { scratch = try TemporaryDirectory(prefix: "gitpack-hostile") }

    /// The review's bomb: an 80 KB pack (a 64 KiB base and 4,800 three-byte copy ops of 65,535 bytes) whose
    /// result is 300 MiB. It is stored correctly, and the import's peak RSS stays far below the result's size.
    @Test func hugeDeltaResultFromATinyPack() throws {
        let base = [UInt8](repeating: 0x41, count: 65535)
        let ops = 4800
        var delta = PackBuilder.varint(65535) + PackBuilder.varint(65535 * ops)
        for _ in 0..<ops { delta += [0xB0, 0xFF, 0xFF] }  // copy 65535 bytes from offset 0
        let b = PackBuilder.entry(type: 3, base)
        let pack = PackBuilder.pack([b, PackBuilder.entry(type: 6, delta, distance: b.count)])
        #expect(pack.count < 81_000)
        let path = scratch.appending("bomb.pack")
        try TestFiles.write(path, bytes: pack)
        let store = try ObjectStore(root: scratch.appending("store-bomb"))

        let expected = BlobHasher(size: 65535 * ops)
        for _ in 0..<ops { expected.update(base) }
        let (report, growth) = try measured("a 300 MiB delta result from an 80 KB pack") {
            try PackImporter(store: store).importPack(atPath: path)
        }
        #expect(report.deltas == 1)
        let id = try #require(expected.finalize())
        #expect(store.size(of: id) == 65535 * ops)
        #expect(try BlobHasher.hashFile(atPath: store.path(for: id)).id == id)
        if let growth { #expect(growth < 32 << 20, "the import held \(growth) bytes at its peak") }
    }

    /// Delta instructions that are a zlib bomb: 128 MiB of insert ops deflated to a few hundred KB. Applied as
    /// they inflate, they never sit in memory; the 127 MiB result is stored and hashes right.
    @Test func deltaInstructionsThatInflateHugely() throws {
        let base = Array("base".utf8)
        let inserts = 1 << 20
        let unit = [0x7F] + [UInt8](repeating: 0x42, count: 127)
        let resultSize = 127 * inserts
        let prefix = PackBuilder.varint(base.count) + PackBuilder.varint(resultSize)
        let zlib = try deflate(prefix: prefix, unit: unit, times: inserts)
        let b = PackBuilder.entry(type: 3, base)
        let d = PackBuilder.entry(
            type: 6, declaredSize: prefix.count + unit.count * inserts, zlib: zlib, distance: b.count)
        let path = scratch.appending("zbomb.pack")
        try TestFiles.write(path, bytes: PackBuilder.pack([b, d]))
        #expect(zlib.count < 1 << 20)
        let store = try ObjectStore(root: scratch.appending("store-zbomb"))

        let expected = BlobHasher(size: resultSize)
        let run = [UInt8](repeating: 0x42, count: 127 * 1024)
        for _ in 0..<(inserts / 1024) { expected.update(run) }
        let (report, growth) = try measured("128 MiB of delta instructions from a small zlib stream") {
            try PackImporter(store: store).importPack(atPath: path)
        }
        #expect(report.deltas == 1)
        let id = try #require(expected.finalize())
        #expect(try BlobHasher.hashFile(atPath: store.path(for: id)).id == id)
        if let growth { #expect(growth < 32 << 20, "the import held \(growth) bytes at its peak") }
    }

    /// Instructions that inflate to far more than the result they declare: refused as soon as the declared
    /// result is exceeded, without inflating (let alone holding) the rest.
    @Test func deltaInstructionsBeyondTheirResult() throws {
        let base = Array("base".utf8)
        let unit = [0x7F] + [UInt8](repeating: 0x42, count: 127)
        let prefix = PackBuilder.varint(base.count) + PackBuilder.varint(1 << 20)
        let zlib = try deflate(prefix: prefix, unit: unit, times: 1 << 20)
        let b = PackBuilder.entry(type: 3, base)
        let d = PackBuilder.entry(
            type: 6, declaredSize: prefix.count + unit.count << 20, zlib: zlib, distance: b.count)
        let path = scratch.appending("over.pack")
        try TestFiles.write(path, bytes: PackBuilder.pack([b, d]))
        let store = try ObjectStore(root: scratch.appending("store-over"))
        let (error, growth) = try measured("instructions far beyond their declared result") {
            try #require(throws: SmartSyncError.self) { try PackImporter(store: store).importPack(atPath: path) }
        }
        #expect(error.code == .integrity)
        #expect(error.message.contains("the delta produces more than its declared 1048576 bytes"))
        #expect(try StoreAudit.count(in: store) == 1)
        #expect(try StoreAudit.problems(in: store) == [])
        if let growth { #expect(growth < 16 << 20, "the import held \(growth) bytes at its peak") }
    }

    /// Absurd declared sizes cost nothing: an entry header's 2^60 is refused as it is read; 2^50 (an entry's data
    /// or a delta's result) fails when the stream ends short, and nothing was allocated for it.
    @Test(arguments: ["header", "blob", "instructions", "result"])
    func absurdDeclaredSizeFailsCleanly(what: String) throws {
        let huge = what == "header" ? 1 << 60 : 1 << 50
        let base = Array("hello world".utf8)
        let b = PackBuilder.entry(type: 3, base)
        let entries: [[UInt8]]
        switch what {
        case "header", "blob":
            entries = [PackBuilder.entry(type: 3, declaredSize: huge, zlib: PackBuilder.zlibStored(base))]
        case "instructions":
            let delta: [UInt8] = [11, 5, 0x90, 5]
            let d = PackBuilder.entry(
                type: 6, declaredSize: huge, zlib: PackBuilder.zlibStored(delta), distance: b.count)
            entries = [b, d]
        default:
            entries = [b, PackBuilder.entry(type: 6, [11] + PackBuilder.varint(huge) + [0x90, 5], distance: b.count)]
        }
        let path = scratch.appending("absurd-\(what).pack")
        try TestFiles.write(path, bytes: PackBuilder.pack(entries))
        let store = try ObjectStore(root: scratch.appending("store-absurd-\(what)"))
        let (error, growth) = try measured("an entry declaring \(huge) bytes (\(what))") {
            try #require(throws: SmartSyncError.self) { try PackImporter(store: store).importPack(atPath: path) }
        }
        let expected =
            switch what {
            case "header": "the entry's size field is too long"
            case "blob": "the entry inflates to 11 bytes, not its declared \(huge)"
            case "instructions": "the entry inflates to 4 bytes, not its declared \(huge)"
            default: "the delta produces 5 bytes, not its declared result size \(huge)"
            }
        #expect(error.message.contains(expected), "\(error.message)")
        #expect(try StoreAudit.problems(in: store) == [])
        if let growth { #expect(growth < 8 << 20, "the import held \(growth) bytes at its peak") }
    }

    /// 500 REF_DELTAs in reverse order (each on the next one's result, the base last): each resolves as soon as
    /// its base is stored, in time linear in the chain.
    @Test func reversedChainOfRefDeltasResolves() throws {
        let count = 500
        var contents = [Array("start\n".utf8)]
        for i in 1...count { contents.append(contents[i - 1] + Array("line \(i)\n".utf8)) }
        var entries: [[UInt8]] = []
        for i in stride(from: count, through: 1, by: -1) {
            let source = contents[i - 1]
            let added = Array("line \(i)\n".utf8)
            let copy: [UInt8] = [0x80 | 0x10 | 0x20, UInt8(source.count & 0xFF), UInt8(source.count >> 8)]
            let delta =
                PackBuilder.varint(source.count) + PackBuilder.varint(contents[i].count) + copy + [UInt8(added.count)]
                + added
            entries.append(PackBuilder.entry(type: 7, delta, base: ObjectID.blob(source)))
        }
        entries.append(PackBuilder.entry(type: 3, contents[0]))
        let path = scratch.appending("chain.pack")
        try TestFiles.write(path, bytes: PackBuilder.pack(entries))
        let store = try ObjectStore(root: scratch.appending("store-chain"))

        let clock = ContinuousClock()
        let start = clock.now
        let report = try PackImporter(store: store).importPack(atPath: path)
        let elapsed = clock.now - start
        FileHandle.standardError.write(Data("reversed chain of \(count) REF_DELTAs: imported in \(elapsed)\n".utf8))
        #expect(report.objects == count + 1)
        #expect(report.deltas == count)
        #expect(try store.read(ObjectID.blob(contents[count])) == contents[count])
        #expect(elapsed < .seconds(20))
        #expect(try StoreAudit.problems(in: store) == [])
    }

    /// A tree nested 3,000 deep is listed (the walk keeps its own stack), not a stack overflow.
    @Test func deepTreeIsListed() throws {
        let depth = 3000
        let store = try ObjectStore(root: scratch.appending("store-deep"))
        let blob = try store.insert(Array("x".utf8))
        var tree = try store.insert(
            TreeObject.encode([TreeObject.Child(name: Array("f".utf8), mode: .regular, id: blob)]), kind: .tree)
        for _ in 0..<depth {
            tree = try store.insert(
                TreeObject.encode([TreeObject.Child(name: Array("d".utf8), mode: .tree, id: tree)]), kind: .tree)
        }
        let text = "tree \(tree)\nauthor A <a@example.com> 0 +0000\ncommitter A <a@example.com> 0 +0000\n\ndeep\n"
        let commit = try store.insert(Array(text.utf8), kind: .commit)
        let listing = try StoredTrees.listing(commit: commit, in: store)
        #expect(listing.entries.count == depth + 1)
        #expect(listing.entries.last?.id == blob)
        #expect(listing.entries.last?.path.count == 2 * depth + 1)
        #expect(StoredTrees.missingObjects(commit: commit, in: store) == [])
    }

    // MARK: helpers

    /// Runs `body` and returns its result with the growth of the peak RSS over the RSS before it (nil where the
    /// kernel cannot reset the peak), printing it.
    private func measured<T>(_ what: String, _ body: () throws -> T) throws -> (T, Int?) {
        let reset = MemoryProbe.resetPeak()
        let before = MemoryProbe.current()
        let result = try body()
        guard reset, let before, let peak = MemoryProbe.peak() else { return (result, nil) }
        FileHandle.standardError.write(Data("\(what): peak RSS grew by \((peak - before) >> 10) KiB\n".utf8))
        return (result, peak - before)
    }

    /// A zlib stream of `prefix` then `unit` repeated `times` times, deflated as it is produced.
    private func deflate(prefix: [UInt8], unit: [UInt8], times: Int) throws -> [UInt8] {
        var stream = z_stream()
        guard deflateInit_(&stream, 6, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FixtureError(message: "deflateInit failed")
        }
        defer { deflateEnd(&stream) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let batch = Array([[UInt8]](repeating: unit, count: 128).joined())
        func feed(_ input: [UInt8], _ flush: Int32) throws {
            var input = input
            try input.withUnsafeMutableBufferPointer { inp in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                repeat {
                    let status = buffer.withUnsafeMutableBufferPointer { buf in
                        stream.next_out = buf.baseAddress
                        stream.avail_out = uInt(buf.count)
                        return CZlib.deflate(&stream, flush)
                    }
                    guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                        throw FixtureError(message: "deflate failed (\(status))")
                    }
                    out += buffer[0..<(buffer.count - Int(stream.avail_out))]
                } while stream.avail_out == 0
                stream.next_in = nil
            }
        }
        try feed(prefix, Z_NO_FLUSH)
        for _ in 0..<(times / 128) { try feed(batch, Z_NO_FLUSH) }
        for _ in 0..<(times % 128) { try feed(unit, Z_NO_FLUSH) }
        try feed([], Z_FINISH)
        return out
    }
}
