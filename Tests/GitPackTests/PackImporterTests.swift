import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncObjectStore
import TestSupport
import Testing

@Suite struct PackImporterTests {
    /// Every object of the history is stored with git's content, whether deltas name bases by offset or by id.
    @Test(arguments: [["--delta-base-offset"], []])
    func fullPackRoundTrips(options: [String]) throws {
        let fixture = try PackFixture()
        let path = try fixture.pack(["--all"], options: options, name: "full")
        let store = try fixture.makeStore("full")
        let report = try PackImporter(store: store).importPack(atPath: path)

        let expected = try fixture.objects(["--all"])
        #expect(report.deltas > 0)
        #expect(report.objects == expected.count)
        #expect(report.externalBases == 0)
        #expect(report.trailerVerified)
        #expect(report.packBytes == Int(try FileManager.default.attributesOfItem(atPath: path)[.size] as! UInt64))
        for (id, kind, content) in expected {
            #expect(try store.read(id) == content, "\(kind) \(id)")
        }
        let kinds = Dictionary(grouping: expected, by: \.kind).mapValues(\.count)
        #expect(report.ids == kinds)
        #expect(try StoreAudit.problems(in: store) == [])
        // Without --delta-base-offset git names every base by id (type 7), with it by offset (type 6).
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let deltaTypes = Set(
            try fixture.entries(ofPack: path).filter { $0.isDelta }.map { (bytes[$0.offset] >> 4) & 7 })
        #expect(deltaTypes == (options.isEmpty ? [7] : [6]))
    }

    /// Importing the same pack twice keeps the objects and reports them again.
    @Test func reimportIsHarmless() throws {
        let fixture = try PackFixture(commits: 2)
        let path = try fixture.pack(["--all"], name: "twice")
        let store = try fixture.makeStore("twice")
        let first = try PackImporter(store: store).importPack(atPath: path)
        let second = try PackImporter(store: store).importPack(atPath: path)
        #expect(first == second)
        #expect(try StoreAudit.problems(in: store) == [])
    }

    /// A thin pack's deltas against objects the store already has are resolved from the store.
    @Test func thinPackUsesStoredBases() throws {
        let fixture = try PackFixture()
        let old = fixture.commits[2]
        let head = fixture.commits.last!
        let store = try fixture.makeStore("thin")
        let base = try fixture.pack([old], name: "old")
        try PackImporter(store: store).importPack(atPath: base)

        let thin = try fixture.pack([head, "^" + old], options: ["--thin", "--delta-base-offset"], name: "thin")
        let report = try PackImporter(store: store).importPack(atPath: thin)
        #expect(report.externalBases > 0)
        #expect(report.trailerVerified)
        for (id, _, content) in try fixture.objects([head, "^" + old]) {
            #expect(try store.read(id) == content)
        }
        #expect(StoredTrees.missingObjects(commit: try #require(ObjectID(hex: head)), in: store) == [])
        #expect(try StoreAudit.problems(in: store) == [])
    }

    /// A thin pack into a store without its bases names the missing base; complete objects are kept.
    @Test func thinPackWithoutBasesNamesTheBase() throws {
        let fixture = try PackFixture()
        let old = fixture.commits[2]
        let head = fixture.commits.last!
        let thin = try fixture.pack([head, "^" + old], options: ["--thin"], name: "thin")
        let store = try fixture.makeStore("empty")
        let error = try #require(throws: SmartSyncError.self) {
            try PackImporter(store: store).importPack(atPath: thin)
        }
        #expect(error.message.contains("the pack is thin and base"))
        #expect(error.message.contains("is not in the store"))
        #expect(error.message.contains(thin))
        #expect(try StoreAudit.count(in: store) > 0)
        #expect(try StoreAudit.problems(in: store) == [])
    }

    /// A 20 MiB blob streams through the importer: inflated in chunks into the store writer, never held whole.
    /// The blob and the pack go to files without passing through this process's memory, so the peak RSS of the
    /// import itself can be measured (Linux: `VmHWM`, reset through `/proc/self/clear_refs`).
    @Test func largeBlobRoundTripsWithoutBeingHeld() throws {
        let fixture = try PackFixture(commits: 1)
        let size = 20 << 20
        let file = fixture.repo.workTree + "/big.bin"
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for part in 0..<(size / chunk.count) {
            for i in stride(from: 0, to: chunk.count, by: 8) {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                withUnsafeBytes(of: state) { raw in
                    // Half the chunks random, half text-like, so the stream has both kinds of deflate blocks.
                    for j in 0..<8 { chunk[i + j] = part % 2 == 0 ? raw[j] : UInt8(ascii: "a") + raw[j] % 26 }
                }
            }
            try handle.write(contentsOf: chunk)
        }
        try handle.close()
        let head = try fixture.repo.commit("big")
        let (id, _) = try BlobHasher.hashFile(atPath: file)
        let pack = fixture.scratch.appending("big.pack")
        let git = "git --git-dir=\(fixture.repo.gitDir) pack-objects --all --stdout -q > \(pack) < /dev/null"
        try ProcessRunner.run("sh", ["-c", git], environment: GitFixture.environment)
        #expect(!head.isEmpty)

        let store = try fixture.makeStore("big")
        let measured = MemoryProbe.resetPeak()
        let before = MemoryProbe.current()
        let report = try PackImporter(store: store).importPack(atPath: pack)
        let peak = MemoryProbe.peak()
        #expect(report.trailerVerified)
        #expect(store.size(of: id) == size)
        #expect(try BlobHasher.hashFile(atPath: store.path(for: id)).id == id)
        try ProcessRunner.run("cmp", [file, store.path(for: id)])
        #expect(measured || !FileManager.default.fileExists(atPath: "/proc/self/clear_refs"))
        #expect(before != nil && peak != nil)
        if measured, let before, let peak {
            let line = "pack import of a \(size >> 20) MiB blob: peak RSS grew by \((peak - before) >> 10) KiB\n"
            FileHandle.standardError.write(Data(line.utf8))
            #expect(peak - before < 8 << 20, "the import held \(peak - before) bytes at its peak")
        }
    }

    /// Many small objects (with deltas between them): the import's peak RSS stays small, a few dozen bytes an
    /// entry for the offset table, nothing per object's content.
    @Test func manyObjectsKeepMemoryFlat() throws {
        let fixture = try PackFixture(commits: 1)
        let dir = fixture.repo.workTree + "/many"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for i in 0..<3000 {
            let text = (0..<40).map { "line \($0) of a file like many others, number \(i % 7)" }.joined(separator: "\n")
            #expect(FileManager.default.createFile(atPath: dir + "/f\(i)", contents: Data((text + "\(i)\n").utf8)))
        }
        try fixture.repo.commit("many")
        let pack = fixture.scratch.appending("many.pack")
        let git = "git --git-dir=\(fixture.repo.gitDir) pack-objects --all --stdout -q > \(pack) < /dev/null"
        try ProcessRunner.run("sh", ["-c", git], environment: GitFixture.environment)

        let store = try fixture.makeStore("many")
        let measured = MemoryProbe.resetPeak()
        let before = MemoryProbe.current()
        let report = try PackImporter(store: store).importPack(atPath: pack)
        let peak = MemoryProbe.peak()
        #expect(report.objects > 3000)
        #expect(report.deltas > 1000)
        #expect(report.trailerVerified)
        if measured, let before, let peak {
            let line = "pack import of \(report.objects) objects: peak RSS grew by \((peak - before) >> 10) KiB\n"
            FileHandle.standardError.write(Data(line.utf8))
            #expect(peak - before < 8 << 20, "the import held \(peak - before) bytes at its peak")
        }
    }
}

/// Resident memory of this process, from `/proc/self/status` (Linux only; nil elsewhere).
enum MemoryProbe {
    /// Resets the peak (`VmHWM`) to the current RSS. False when the kernel does not allow it.
    static func resetPeak() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    static func current() -> Int? { field("VmRSS:") }
    static func peak() -> Int? { field("VmHWM:") }

    private static func field(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let kb = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap {
                Int($0)
            }
            return kb.map { $0 * 1024 }
        }
        return nil
    }
}
