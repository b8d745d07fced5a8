import SmartSyncGitObjects
import Testing

@testable import SmartSyncPipeline

/// Pinned files: fixed values and the bytes the format gives them, laid out field by field from its definition
/// (little-endian, a path's u32 length then its bytes) and the SHA-1 of all before it computed apart. A change to the
/// writer that changes a byte of a file fails here, whatever the reference encoder of ``BinaryWriterTests`` does.
@Suite struct BinaryWriterGoldenTests {
    static func id(_ byte: String) -> ObjectID { ObjectID(hex: String(repeating: byte, count: 20))! }

    /// Two entries, the second's path not UTF-8 (`d`, 0xFF) and its fields at the extremes of their signs.
    @Test func statCacheOfTwoEntries() throws {
        let paths = [TreePath(bytes: Array("a".utf8)), TreePath(bytes: [0x64, 0xFF])]
        let values = [
            StatCache.Entry(
                stat: StatData(device: 1, inode: 2, size: 3, mtimeNs: 4, ctimeNs: -5, mode: 0o100644),
                id: Self.id("11")),
            StatCache.Entry(
                stat: StatData(
                    device: 0x0102_0304_0506_0708, inode: 9, size: -1, mtimeNs: 1_700_000_000_000_000_000, ctimeNs: 0,
                    mode: 0o120000),
                id: Self.id("22")),
        ]
        let cache = StatCache(entries: PathTable(keysInOrder: paths, values: values), timestampNs: 1)
        let hex =
            "53535343" + "02000000" + "02000000"  // SSSC, version 2, 2 entries
            + "01000000" + "61"  // "a"
            + "0100000000000000" + "0200000000000000" + "0300000000000000"  // device, inode, size
            + "0400000000000000" + "fbffffffffffffff" + "a4810000"  // mtime, ctime -5, mode 0o100644
            + String(repeating: "11", count: 20)
            + "02000000" + "64ff"  // "d", 0xFF
            + "0807060504030201" + "0900000000000000" + "ffffffffffffffff"  // device, inode, size -1
            + "00002a36fe9c9717" + "0000000000000000" + "00a00000"  // mtime 1.7e18, ctime 0, mode 0o120000
            + String(repeating: "22", count: 20)
            + "7a06f4dd904877024b205fd66eee2bce79f63f97"  // SHA-1
        #expect(cache.encoded() == [UInt8](hexBytes: hex))
    }

    /// A state with kept-local files (one path not UTF-8: `k`, 0xFE) and pending deletes.
    @Test func stateWithKeptLocalAndPendingDeletes() {
        func manifest(_ path: [UInt8], _ mode: FileMode, _ id: String) -> Manifest {
            Manifest(
                entries: PathTable(keysInOrder: [TreePath(bytes: path)], values: [.init(mode: mode, id: Self.id(id))]))
        }
        var state = TargetState(
            target: "/srv/t", commit: Self.id("aa"), ref: "main", appliedAtNs: 42,
            manifest: manifest(Array("a".utf8), .regular, "bb"))
        state.keptLocal = manifest([0x6B, 0xFE], .executable, "cc")
        state.pendingDeletes = manifest(Array("p".utf8), .symlink, "dd")
        let hex =
            "53535354" + "01000000"  // SSST, version 1
            + "06000000" + "2f7372762f74" + String(repeating: "aa", count: 20)  // "/srv/t", commit
            + "04000000" + "6d61696e" + "2a00000000000000"  // "main", applied at 42
            + "01000000" + "01000000" + "61" + "a4810000" + String(repeating: "bb", count: 20)  // manifest: "a" 100644
            + "01000000" + "02000000" + "6bfe" + "ed810000" + String(repeating: "cc", count: 20)  // kept: k 0xFE 100755
            + "01000000" + "01000000" + "70" + "00a00000" + String(repeating: "dd", count: 20)  // pending: "p" 120000
            + "c7ae32f3afcaed852ebe3d7c339f45efd1c7e9c2"  // SHA-1
        #expect(state.encoded() == [UInt8](hexBytes: hex))
        #expect(TargetState(encoded: [UInt8](hexBytes: hex)) == state)
    }
}
