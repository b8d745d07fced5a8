import Foundation
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport

/// A repository with a few commits of slowly changing files (so `git pack-objects` makes deltas), the packs
/// made from it, and checks of what an import left in a store.
final class PackFixture {
    let repo: GitFixture
    let scratch: TemporaryDirectory
    /// The commits, oldest first.
    private(set) var commits: [String] = []

    init(commits count: Int = 5) throws {
        repo = try GitFixture()
        scratch = try TemporaryDirectory(prefix: "gitpack")
        for round in 0..<count {
            for file in 0..<4 {
                let lines = (0..<120).map { line in
                    line % 17 == round
                        ? "file \(file) line \(line) changed in round \(round)" : "file \(file) line \(line)"
                }
                try repo.write(file < 2 ? "src/f\(file).txt" : "docs/deep/f\(file).md", lines.joined(separator: "\n"))
            }
            try repo.write("tool.sh", "#!/bin/sh\necho round \(round)\n", executable: true)
            try repo.write("round-\(round).txt", "only in round \(round)\n")
            if round == 0 { try repo.symlink("link", to: "src/f0.txt") }
            commits.append(try repo.commit("round \(round)"))
        }
        try repo.tag("v1", annotated: true, at: commits[0])
    }

    /// Adds a gitlink (submodule) entry at `sub` in a new commit.
    func addGitlink() throws -> String {
        try repo.git("update-index", "--add", "--cacheinfo", "160000,\(commits[0]),sub")
        try repo.git("commit", "-q", "--no-verify", "-m", "gitlink")
        let head = try repo.git("rev-parse", "HEAD")
        commits.append(head)
        return head
    }

    /// Writes `git pack-objects --stdout --revs` for `revisions` (stdin lines) to a file and returns its path.
    func pack(_ revisions: [String], options: [String] = ["--delta-base-offset"], name: String) throws -> String {
        // `--all` is an option of pack-objects, not a line of its input.
        let all = revisions == ["--all"]
        let input = all ? [] : Array((revisions.joined(separator: "\n") + "\n").utf8)
        let result = try repo.gitResult(
            ["pack-objects", "--stdout", "--revs", "-q"] + (all ? ["--all"] : []) + options, input: input)
        let path = scratch.appending(name + ".pack")
        guard FileManager.default.createFile(atPath: path, contents: Data(result.stdout)) else {
            throw FixtureError(message: "could not write \(path)")
        }
        return path
    }

    /// A fresh empty store.
    func makeStore(_ name: String) throws -> ObjectStore {
        try ObjectStore(root: scratch.appending("store-" + name))
    }

    /// Every object `git rev-list --objects` lists for `revisions`, with its type and content (`cat-file --batch`).
    func objects(_ revisions: [String]) throws -> [(id: ObjectID, kind: ObjectKind, content: [UInt8])] {
        let list = try repo.git(["rev-list", "--objects"] + revisions)
        let ids = list.split(separator: "\n").map { String($0.prefix(40)) }
        let batch = try repo.gitResult(["cat-file", "--batch"], input: Array(ids.map { $0 + "\n" }.joined().utf8))
        var out: [(ObjectID, ObjectKind, [UInt8])] = []
        let bytes = batch.stdout
        var i = 0
        while i < bytes.count {
            let newline = bytes[i...].firstIndex(of: UInt8(ascii: "\n"))!
            let fields = String(decoding: bytes[i..<newline], as: UTF8.self).split(separator: " ")
            let size = Int(fields[2])!
            let content = Array(bytes[(newline + 1)..<(newline + 1 + size)])
            out.append((ObjectID(hex: fields[0])!, ObjectKind(rawValue: String(fields[1]))!, content))
            i = newline + 1 + size + 1
        }
        return out
    }

    /// Entries of a (complete) pack as `git verify-pack -v` lists them: id, type, offset, bytes in the pack.
    func entries(ofPack path: String) throws -> [PackEntryInfo] {
        try repo.git("index-pack", path)
        let output = try repo.git("verify-pack", "-v", path)
        return output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 5, let id = ObjectID(hex: f[0]), let packed = Int(f[3]), let offset = Int(f[4]) else {
                return nil
            }
            return PackEntryInfo(id: id, type: String(f[1]), offset: offset, packedSize: packed, isDelta: f.count >= 7)
        }.sorted { $0.offset < $1.offset }
    }
}

struct PackEntryInfo {
    var id: ObjectID
    var type: String
    var offset: Int
    var packedSize: Int
    var isDelta: Bool
}

/// Checks of a store's contents after an import.
enum StoreAudit {
    /// Names of objects whose content does not hash to their name as any kind, plus files left in `tmp/`.
    static func problems(in store: ObjectStore) throws -> [String] {
        var problems: [String] = []
        let fm = FileManager.default
        for dir in try fm.contentsOfDirectory(atPath: store.objectsDirectory) {
            for name in try fm.contentsOfDirectory(atPath: store.objectsDirectory + "/" + dir) {
                guard let id = ObjectID(hex: dir + name) else {
                    problems.append("unexpected file objects/\(dir)/\(name)")
                    continue
                }
                let content = try store.read(id)
                if ![ObjectKind.blob, .tree, .commit, .tag].contains(where: { ObjectID.hash($0, content) == id }) {
                    problems.append("objects/\(dir)/\(name) does not hash to its name")
                }
            }
        }
        for name in try fm.contentsOfDirectory(atPath: store.temporaryDirectory) {
            problems.append("left in tmp/: \(name)")
        }
        return problems
    }

    /// How many objects the store holds.
    static func count(in store: ObjectStore) throws -> Int {
        let fm = FileManager.default
        return try fm.contentsOfDirectory(atPath: store.objectsDirectory).reduce(0) {
            $0 + (try fm.contentsOfDirectory(atPath: store.objectsDirectory + "/" + $1)).count
        }
    }
}

/// Builds packs by hand: a header, entries with zlib "stored" blocks, and a correct trailer.
enum PackBuilder {
    /// A complete pack of already encoded entries.
    static func pack(_ entries: [[UInt8]]) -> [UInt8] {
        var out = Array("PACK".utf8) + [0, 0, 0, 2]
        let n = UInt32(entries.count)
        out += [
            UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8),
            UInt8(truncatingIfNeeded: n),
        ]
        for e in entries { out += e }
        return withTrailer(out)
    }

    /// `bytes` (a pack without trailer) followed by the SHA-1 of `bytes`.
    static func withTrailer(_ bytes: [UInt8]) -> [UInt8] {
        let sha = SHA1Hasher()
        sha.update(bytes)
        return bytes + sha.finalize().bytes
    }

    /// Replaces a pack's trailer with the right one for its (edited) content.
    static func retrailed(_ pack: [UInt8]) -> [UInt8] { withTrailer(Array(pack.dropLast(20))) }

    /// An entry: header for `type` and the size of `data`, the REF_DELTA base or OFS_DELTA distance if any, then
    /// `data` deflated.
    static func entry(type: UInt8, _ data: [UInt8], base: ObjectID? = nil, distance: Int? = nil) -> [UInt8] {
        entry(type: type, declaredSize: data.count, zlib: zlibStored(data), base: base, distance: distance)
    }

    /// An entry whose header declares `declaredSize` (true or not) followed by the zlib stream `zlib` as given.
    static func entry(
        type: UInt8, declaredSize: Int, zlib: [UInt8], base: ObjectID? = nil, distance: Int? = nil
    ) -> [UInt8] {
        var size = declaredSize
        var out: [UInt8] = [(type << 4) | UInt8(size & 0x0F)]
        size >>= 4
        while size > 0 {
            out[out.count - 1] |= 0x80
            out.append(UInt8(size & 0x7F))
            size >>= 7
        }
        if let base { out += base.bytes }
        if var ofs = distance {
            // git's encoding: big-endian 7-bit groups, each continuation group one less than it reads.
            var encoded: [UInt8] = [UInt8(ofs & 0x7F)]
            ofs >>= 7
            while ofs > 0 {
                ofs -= 1
                encoded.insert(0x80 | UInt8(ofs & 0x7F), at: 0)
                ofs >>= 7
            }
            out += encoded
        }
        return out + zlib
    }

    /// A zlib stream of one stored (uncompressed) block (data under 64 KiB).
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        let len = UInt16(data.count)
        var out: [UInt8] = [0x78, 0x01, 0x01, UInt8(len & 0xFF), UInt8(len >> 8), UInt8(~len & 0xFF), UInt8(~len >> 8)]
        out += data
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        let adler = b << 16 | a
        return out + [
            UInt8(adler >> 24), UInt8(truncatingIfNeeded: adler >> 16), UInt8(truncatingIfNeeded: adler >> 8),
            UInt8(truncatingIfNeeded: adler),
        ]
    }

    /// A delta header's size: little-endian 7-bit groups, the high bit set on all but the last.
    static func varint(_ x: Int) -> [UInt8] {
        var v = x
        var o: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v > 0 { b |= 0x80 }
            o.append(b)
        } while v > 0
        return o
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw FixtureError(message: "could not write \(path)")
        }
    }
}

struct FixtureError: Error {
    var message: String
}
