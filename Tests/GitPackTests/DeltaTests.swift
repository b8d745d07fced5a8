import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncGitPack

@Suite struct DeltaTests {
    @Test func copyAndInsert() throws {
        let base = Array("hello world".utf8)
        // Base size 11, result size 8: copy 5 bytes from offset 0, insert "!!!".
        let delta: [UInt8] = [11, 8, 0x80 | 0x10, 5, 3, 0x21, 0x21, 0x21]
        #expect(try Delta.apply(delta, to: base) == Array("hello!!!".utf8))
    }

    @Test func copySizeZeroMeans64KiB() throws {
        let base = [UInt8](repeating: 7, count: 0x10000 + 3)
        // Varints: 0x10003 = 0x83 0x80 0x04; 0x10000 = 0x80 0x80 0x04. Copy from offset 2, size omitted.
        let delta: [UInt8] = [0x83, 0x80, 0x04, 0x80, 0x80, 0x04, 0x80 | 0x01, 2]
        #expect(try Delta.apply(delta, to: base).count == 0x10000)
    }

    /// Instructions fed a byte at a time, with a 7-byte output buffer: varints, op headers, copy arguments and
    /// inserts all span chunks, and the result is the same.
    @Test func instructionsSplitAnywhere() throws {
        let base = Array("the quick brown fox jumps over the lazy dog".utf8)
        let delta: [UInt8] =
            [43, 30, 0x80 | 0x01 | 0x10, 4, 6, 3] + Array("red".utf8) + [0x80 | 0x01 | 0x10, 15, 11, 0x90, 10]
        var out: [UInt8] = []
        var started: Int?
        let applier = DeltaApplier(
            base: InMemoryDeltaBase(bytes: base), chunk: 7, start: { started = $0 }, sink: { out += $0 })
        for byte in delta { try [byte].withUnsafeBytes { try applier.feed($0) } }
        try applier.finish()
        #expect(started == 30)
        #expect(out == (try Delta.apply(delta, to: base)))
        #expect(String(decoding: out, as: UTF8.self) == "quick red fox jumps the quick ")
    }

    /// A symlink or a directory at a delta base's store path is never read: it is damage in the local store, worded
    /// as the store's own reads word it (``ObjectStore/notAnObject(_:at:mode:)``: one wording, the fsck hint).
    @Test func aBaseThatIsNoFileIsStoreDamageInTheStoresWords() throws {
        let scratch = try TemporaryDirectory(prefix: "delta-base")
        let store = try ObjectStore(root: scratch.appending("store"))
        let id = ObjectID.blob(Array("a base\n".utf8))
        let path = store.path(for: id)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        for (plant, kind) in [("symlink", "a symlink"), ("directory", "a directory")] {
            if plant == "symlink" {
                #expect(symlink("/etc/passwd", path) == 0)
            } else {
                #expect(mkdir(path, 0o755) == 0)
            }
            let error = try #require(throws: SmartSyncError.self) { try StoredDeltaBase(path: path, id: id) }
            #expect(error.isStoreDamage, "\(plant)")
            #expect(error.message == "the store object \(id) at \(path) is \(kind), not a file: it was not read")
            #expect(error.hint?.contains("fsck --repair") == true, "\(plant)")
            #expect(remove(path) == 0)
        }
    }
}
