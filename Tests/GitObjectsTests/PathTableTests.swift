import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

/// The sorted path table: git's byte order (not `String`'s), lookups, in-order building and the merge join.
struct PathTableTests {
    /// Paths in git's byte order, with the cases a `String` or a per-component sort gets wrong: '-' (0x2D) and '.'
    /// (0x2E) sort before '/' (0x2F), which sorts before '0'; non-UTF-8 bytes after every ASCII byte; a name that is
    /// one code point (é, C3 A9) and one that is e plus a combining accent (65 CC 81) are two names.
    static let inGitOrder: [TreePath] = [
        "a", "a-b", "a.b", "a/b", "a/b/c", "a0", "e\u{301}", "z", TreePath(bytes: [0x63, 0x61, 0x66, 0xC3, 0xA9]),
        TreePath(bytes: [0x63, 0x61, 0x66, 0xE9]), TreePath(bytes: [0xFF]),
    ].sorted()

    @Test func sortsByBytesAsGitDoes() throws {
        let expected: [[UInt8]] = [
            Array("a".utf8), Array("a-b".utf8), Array("a.b".utf8), Array("a/b".utf8), Array("a/b/c".utf8),
            Array("a0".utf8), [0x63, 0x61, 0x66, 0xC3, 0xA9], [0x63, 0x61, 0x66, 0xE9], [0x65, 0xCC, 0x81],
            Array("z".utf8), [0xFF],
        ]
        let shuffled = Self.inGitOrder.reversed().enumerated().map { ($0.element, $0.offset) }
        let table = PathTable(sorting: shuffled)
        #expect(table.keys.map(\.bytes) == expected)
        #expect(PathTable<Int>.isStrictlyIncreasing(table.keys))
        // The same order as `LC_ALL=C sort`, which git's index and `ls-files` follow.
        let sorted = try sortInC(Self.inGitOrder.map(\.bytes))
        #expect(sorted == expected)
        // "é" and "e" + combining accent are equal as Strings but two paths here.
        #expect(table[TreePath("e\u{301}")] != nil)
        #expect(table[TreePath("\u{E9}")] == nil)
    }

    @Test func looksUpSetsAndRemoves() {
        var table: PathTable<Int> = ["b": 2, "a/b": 1, "a.b": 0]
        #expect(table.keys == ["a.b", "a/b", "b"])
        #expect(table["a/b"] == 1)
        #expect(table["a"] == nil)
        table["a-b"] = 9  // inserted in the middle
        table["c"] = 3  // appended
        table["b"] = nil
        table["a.b"] = 5
        table["nothing"] = nil
        #expect(table.keys == ["a-b", "a.b", "a/b", "c"])
        #expect(table.values == [9, 5, 1, 3])
        #expect(table.index(of: "a/b") == 2)
        let pairs = table.map { "\($0.key)=\($0.value)" }
        #expect(pairs == ["a-b=9", "a.b=5", "a/b=1", "c=3"])
    }

    @Test func theLastOfRepeatedPathsWins() {
        let table = PathTable(sorting: [("x", 1), ("a", 2), ("x", 3)] as [(TreePath, Int)])
        #expect(table.keys == ["a", "x"])
        #expect(table["x"] == 3)
    }

    @Test func refusesKeysOutOfOrder() {
        #expect(PathTable(sortedKeys: ["a/b", "a.b"], values: [1, 2]) == nil)
        #expect(PathTable(sortedKeys: ["a", "a"], values: [1, 2]) == nil)
        #expect(PathTable(sortedKeys: ["a.b", "a/b"], values: [1, 2]) != nil)
    }

    /// A path compared with its own storage is equal without its bytes read; equal bytes elsewhere still compare
    /// equal.
    @Test func aPathComparesEqualToItsOwnStorageAndToACopy() {
        let long = (0..<3).map { TreePath("directory/subdirectory/file-\($0).nix") }
        let shared = long.map { $0 }  // the same storage
        let copied = long.map { TreePath(bytes: $0.bytes) }  // equal bytes, storage of their own
        // One storage compares equal without its bytes read; equal bytes elsewhere still compare equal.
        #expect(long[0].compare(shared[0]) == 0 && long[0].compare(copied[0]) == 0 && long[0].compare(long[1]) < 0)
    }

    @Test func descendantsAreOneRange() {
        let table = PathTable(sorting: Self.inGitOrder.map { ($0, 0) })
        #expect(table.descendants(of: "a").map { table.keys[$0] } == ["a/b", "a/b/c"])
        #expect(table.descendants(of: "a/b").map { table.keys[$0] } == ["a/b/c"])
        #expect(table.descendants(of: "a.b").isEmpty)
        #expect(table.descendants(of: "missing").isEmpty)
        #expect(table.descendants(of: .root).count == table.count)
    }

    @Test func mergeJoinVisitsEveryPathOnceInOrder() {
        let left = PathTable(sorting: [("a", 1), ("a/b", 2), ("c", 3)] as [(TreePath, Int)])
        let right = PathTable(
            sorting: [("a-b", "x"), ("a/b", "y"), (TreePath(bytes: [0xE9]), "z")] as [(TreePath, String)])
        #expect(Array(mergeJoin(left, right)) == [.left(0), .right(0), .both(1, 1), .left(2), .right(2)])
        let merged = left.merging(PathTable(sorting: [("a/b", 20), ("b", 4)] as [(TreePath, Int)])) { $1 }
        #expect(merged.keys == ["a", "a/b", "b", "c"])
        #expect(merged.values == [1, 20, 4, 3])
    }

    @Test func cursorSeeksForward() {
        let table = PathTable(sorting: [("a", 1), ("a-b", 2), ("a/b", 3), ("b", 4)] as [(TreePath, Int)])
        var cursor = PathTable.Cursor(table)
        #expect(cursor.seek("a") == 1)
        #expect(cursor.seek("a.b") == nil)
        #expect(cursor.seek("a/b") == 3)
        #expect(cursor.seek("z") == nil)
    }

    @Test func codesAsADictionaryOfPathsDid() throws {
        let dictionary: [TreePath: Int] = [TreePath(bytes: [0x66, 0xE9]): 1]
        let table: PathTable<Int> = [TreePath(bytes: [0x66, 0xE9]): 1]
        let a = try JSONEncoder().encode(dictionary)
        #expect(a == (try JSONEncoder().encode(table)))
        #expect(try JSONDecoder().decode(PathTable<Int>.self, from: a) == table)
    }

    /// `bytes` sorted by `LC_ALL=C sort -z`.
    private func sortInC(_ bytes: [[UInt8]]) throws -> [[UInt8]] {
        let result = try ProcessRunner.run(
            "sort", ["-z"], environment: ["LC_ALL": "C"], input: bytes.flatMap { $0 + [0] })
        return result.stdout.split(separator: 0).map(Array.init)
    }
}
