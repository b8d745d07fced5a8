import Foundation
import Testing
import TestSupport

/// A store whose validator cache smart-sync 0.1.0 wrote: the next run still gets its `304`s from it, and leaves the
/// entries it used in the JSON record format.
@Suite("records of 0.1.0 in a store", .serialized)
struct RecordMigrationEndToEndTests {
    /// Rewrites the validator cache entry at `path` (a JSON record line, then the body) as smart-sync 0.1.0 wrote it
    /// (as in `Tests/Fixtures/Records/validator-cache`): the key line, the `ETag` line, then the body.
    static func writeAsRelease010(_ path: String) throws -> String {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let newline = try #require(bytes.firstIndex(of: UInt8(ascii: "\n")))
        let record = try #require(try JSONSerialization.jsonObject(with: bytes[..<newline]) as? [String: Any])
        try #require(record["format"] as? String == "smart-sync-validator-cache", "\(record)")
        let key = try #require(record["key"] as? String)
        let etag = try #require(record["etag"] as? String)
        var old = Data((key + "\n" + etag + "\n").utf8)
        old.append(bytes[(newline + 1)...])
        try old.write(to: URL(fileURLWithPath: path))
        return key
    }

    @Test func anOldValidatorCacheStillSavesTheRequestsAndIsRewritten() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync(["--ref", "main"])
        let cache = s.store + "/http-cache"
        let entries = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.count == 40 }
        try #require(!entries.isEmpty)
        var keys: [String: String] = [:]
        for name in entries { keys[name] = try Self.writeAsRelease010(cache + "/" + name) }

        try s.server.clearLog()
        let summary = try s.sync(["--ref", "main"])
        let plan = try #require(summary["plan"] as? [String: Any])
        #expect(plan["upToDate"] as? Bool == true)
        let api = try s.apiRequests()
        #expect(!api.isEmpty)
        // A 304 needs the ETag: it came from the old entries.
        #expect(api.allSatisfy { $0.status == 304 }, "API answers: \(api.map { "\($0.path) \($0.status)" })")
        // The entries this run asked about are JSON records now; the body is what it was.
        let used = entries.filter { name in api.contains { keys[name]?.contains($0.path) == true } }
        #expect(!used.isEmpty, "\(keys.values) \(api.map(\.path))")
        for name in used {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: cache + "/" + name)))
            #expect(RecordFixtures.isJSONRecord(bytes, format: "smart-sync-validator-cache"), "\(keys[name] ?? name)")
        }
    }
}
