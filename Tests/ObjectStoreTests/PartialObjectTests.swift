import Foundation
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@Suite("Partial objects")
struct PartialObjectTests {
    /// Holds the store (`root`, created by the store itself) and anything beside it; removed with the suite.
    let scratch: TemporaryDirectory
    var root: String { scratch["store"] }

    init() throws { scratch = try TemporaryDirectory(prefix: "partial-test") }

    let content: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    var id: ObjectID { ObjectID.blob(content) }

    private func write(_ partial: PartialObject, _ bytes: ArraySlice<UInt8>) throws {
        try Array(bytes).withUnsafeBytes { try partial.write($0) }
    }

    @Test func metadataRoundTrips() throws {
        let path = root + "-meta"
        defer { unlink(path) }
        let meta = PartialMetadata(
            id: id, size: 300_000, url: "http://127.0.0.1:1/o/r/c/big.bin", validator: "\"abc\"", written: 1234)
        let noValidator = PartialMetadata(id: id, size: 5, url: "u\nwith a newline", validator: nil, written: 0)
        for record in [meta, noValidator] {
            try record.write(to: path)
            #expect(PartialMetadata.load(from: path) == record)
        }
        try FileSystem.writeFileAtomically(path, Array("junk\n".utf8))
        #expect(PartialMetadata.load(from: path) == nil)
        // written beyond size: damaged, not resumed
        try PartialMetadata(id: id, size: 5, url: "u", validator: nil, written: 9).write(to: path)
        #expect(PartialMetadata.load(from: path) == nil)
    }

    @Test func keptPartialResumesWithRehashedPrefix() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let first = try #require(try store.openPartial(expecting: id, size: content.count, url: "u1", keep: true))
        try first.record(validator: "\"v1\"", url: "u1")
        try write(first, content[0..<100_000])
        first.suspend()
        #expect(store.partialMetadata(for: id)?.written == 100_000)
        #expect(store.partialMetadata(for: id)?.validator == "\"v1\"")

        let second = try #require(try store.openPartial(expecting: id, size: content.count, url: "u2", keep: true))
        #expect(second.resumedFrom == 100_000)
        #expect(second.written == 100_000)
        #expect(second.validator == "\"v1\"")
        #expect(second.url == "u1")
        try write(second, content[100_000...])
        #expect(try second.commit() == id)
        #expect(try store.read(id) == content)
        #expect(store.partialMetadata(for: id) == nil)
        #expect(!FileManager.default.fileExists(atPath: store.partialsDirectory + "/" + id.hex))
    }

    @Test func bytesBeyondTheMetadataSurviveACrash() throws {
        // A kill -9 leaves the data longer than the metadata's `written`: the file length is the truth.
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let first = try #require(try store.openPartial(expecting: id, size: content.count, url: "u", keep: true))
        try write(first, content[0..<50_000])
        first.suspend()
        // As after the crash: the metadata was last saved at 0, the data has 50,000 bytes.
        let meta = PartialMetadata(id: id, size: content.count, url: "u", validator: nil, written: 0)
        try meta.write(to: store.partialsDirectory + "/" + id.hex + ".meta")
        let second = try #require(try store.openPartial(expecting: id, size: content.count, url: "u", keep: true))
        #expect(second.resumedFrom == 50_000)
        try write(second, content[50_000...])
        #expect(try second.commit() == id)
    }

    @Test func corruptPrefixIsCaughtAtCommitAndDropped() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        var damaged = content
        damaged[10] ^= 1
        let first = try #require(try store.openPartial(expecting: id, size: content.count, url: "u", keep: true))
        try write(first, damaged[0..<1000])
        first.suspend()
        let second = try #require(try store.openPartial(expecting: id, size: content.count, url: "u", keep: true))
        try write(second, content[1000...])
        #expect(throws: SmartSyncError.self) { try second.commit() }
        #expect(!store.contains(id))
        #expect(store.partialMetadata(for: id) == nil)
    }

    @Test func mismatchedSizeOrShortDataStartsOver() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let first = try #require(try store.openPartial(expecting: id, size: content.count, url: "u", keep: true))
        try write(first, content[0..<1000])
        first.suspend()
        // The metadata promises more than the file holds: damaged.
        let meta = PartialMetadata(id: id, size: content.count, url: "u", validator: nil, written: 5000)
        try meta.write(to: store.partialsDirectory + "/" + id.hex + ".meta")
        let second = try #require(try store.openPartial(expecting: id, size: content.count, url: "u", keep: true))
        #expect(second.resumedFrom == 0)
        second.suspend()
        let other = try #require(try store.openPartial(expecting: id, size: 7, url: "u", keep: true))
        #expect(other.resumedFrom == 0)
        other.discard()
    }

    @Test func restartEmptiesThePartial() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let partial = try #require(try store.openPartial(expecting: id, size: content.count, url: "u", keep: true))
        try write(partial, content[0..<1000])
        try partial.restart()
        #expect(partial.written == 0)
        try write(partial, content[...])
        #expect(try partial.commit() == id)
    }

    @Test func aSecondHolderIsRefused() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let holder = try #require(try store.openPartial(expecting: id, size: content.count, url: "u", keep: true))
        #expect(try store.openPartial(expecting: id, size: content.count, url: "u", keep: true) == nil)
        holder.suspend()
        let next = try store.openPartial(expecting: id, size: content.count, url: "u", keep: true)
        #expect(next != nil)
        next?.discard()
    }

    @Test func unkeptPartialsLeaveNothingBehind() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let partial = try #require(try store.openPartial(expecting: id, size: content.count, url: "u", keep: false))
        try write(partial, content[0..<10])
        partial.suspend()
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
        #expect(store.partialMetadata(for: id) == nil)
    }
}
