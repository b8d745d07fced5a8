import Foundation
import GitObjects
import GitPack
import ObjectStore
import SmartSyncCore
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

    /// A 20 MB blob streams through the importer (inflated in chunks into the store writer).
    @Test func largeBlobRoundTrips() throws {
        let fixture = try PackFixture(commits: 1)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var data = [UInt8](repeating: 0, count: 20 << 20)
        for i in stride(from: 0, to: data.count, by: 8) {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            withUnsafeBytes(of: state) { raw in
                for j in 0..<8 { data[i + j] = raw[j] }
            }
        }
        // Half random, half text-like, so the deflated stream spans many reads.
        for i in stride(from: data.count / 2, to: data.count, by: 1) { data[i] = UInt8(ascii: "a") + data[i] % 26 }
        try fixture.repo.write("big.bin", data)
        let head = try fixture.repo.commit("big")
        let path = try fixture.pack([head], name: "big")
        let store = try fixture.makeStore("big")
        let report = try PackImporter(store: store).importPack(atPath: path)
        let id = ObjectID.blob(data)
        #expect(store.size(of: id) == data.count)
        #expect(try store.read(id) == data)
        #expect(report.trailerVerified)
    }
}
