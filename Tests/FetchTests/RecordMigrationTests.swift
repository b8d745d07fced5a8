import Foundation
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncGitProtocol
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncFetch

/// The validator cache, the capability cache and the pack commit log as smart-sync 0.1.0 wrote them are still
/// read, give the same entries, and are rewritten in the JSON record format.
@Suite struct RecordMigrationTests {
    static let repositoryURL = "https://github.com/o/r.git"

    /// A copy of the fixtures' `http-cache` (the capability cache and pack commit log of ``repositoryURL``).
    static func copiedHTTPCache() throws -> (TemporaryDirectory, String) {
        let dir = try TemporaryDirectory(prefix: "http-cache-migration")
        try RecordFixtures.copy("http-cache", to: dir.appending("http-cache"))
        return (dir, dir.appending("http-cache"))
    }

    @Test func oldValidatorCacheEntriesAreReadAndRewritten() throws {
        let dir = try TemporaryDirectory(prefix: "validator-migration")
        let cacheDir = dir.appending("http-cache")
        try RecordFixtures.copy("validator-cache", to: cacheDir)
        let cache = ValidatorCache(directory: cacheDir)
        var treeBody = Array("{\"sha\":\"x\",\n\"tree\":[]}\n".utf8)
        treeBody += [0, 0xff, 0x0a, 0x0a, 0xfe]
        let expected: [(String, ValidatorCache.Entry)] = [
            (
                "GET https://api.github.com/repos/o/r/commits/HEAD application/vnd.github.sha anonymous",
                .init(etag: "W/\"5f0c\"", body: Array("0123456789abcdef0123456789abcdef01234567".utf8))
            ),
            (
                "GET https://api.github.com/repos/o/r/git/trees/abc?recursive=1 application/vnd.github+json token",
                .init(etag: "\"tree-etag\"", body: treeBody)
            ),
        ]
        for (key, entry) in expected {
            let path = try #require(cache.file(for: key))
            #expect(!RecordFixtures.fileIsJSONRecord(path, format: ValidatorCache.Record.format))
            #expect(cache.entry(for: key) == entry)
            #expect(RecordFixtures.fileIsJSONRecord(path, format: ValidatorCache.Record.format))
            #expect(cache.entry(for: key) == entry, "the same entry from the JSON record")
            // The body follows the record's line byte for byte.
            #expect(
                Array(try Data(contentsOf: URL(fileURLWithPath: path))).suffix(entry.body.count)
                    == ArraySlice(entry.body))
        }
        #expect(
            cache.entry(for: "GET https://api.github.com/repos/o/r/commits/HEAD application/vnd.github.sha token")
                == nil)
    }

    @Test func anOldCapabilityCacheIsReadAndRewritten() throws {
        let (dir, cacheDir) = try Self.copiedHTTPCache()
        defer { dir.remove() }
        let cache = CapabilityCache(directory: cacheDir, repositoryURL: Self.repositoryURL)
        let path = try #require(cache.path)
        #expect(FileManager.default.fileExists(atPath: path), "the fixture is this repository's cache file")
        let savedAt = Date(timeIntervalSince1970: 1_733_500_000.5)
        let expected = UploadPackCapabilities(
            agent: "git/2.39.5", lsRefs: ["unborn"], fetch: ["shallow", "filter"], objectFormat: "sha1",
            serverOption: true, other: ["object-info"])
        #expect(cache.load(now: savedAt.addingTimeInterval(60)) == expected)
        #expect(RecordFixtures.fileIsJSONRecord(path, format: CapabilityCache.Entry.format))
        #expect(cache.load(now: savedAt.addingTimeInterval(60)) == expected)
        #expect(cache.load(now: savedAt.addingTimeInterval(CapabilityCache.lifetime + 1)) == nil, "still a day's life")
    }

    @Test func anOldPackCommitLogIsReadAndRewritten() throws {
        let (dir, cacheDir) = try Self.copiedHTTPCache()
        defer { dir.remove() }
        let log = PackCommitLog(directory: cacheDir, repositoryURL: Self.repositoryURL)
        let path = try #require(log.path)
        let ids = ["3", "2", "1"].map { ObjectID(hex: String(repeating: $0, count: 40))! }
        #expect(log.load() == ids)
        #expect(RecordFixtures.fileIsJSONRecord(path, format: PackCommitLog.Record.format))
        #expect(log.load() == ids)
        let four = ObjectID(hex: String(repeating: "4", count: 40))!
        log.record(four)
        log.record(ids[2])
        #expect(log.load() == [ids[2], four, ids[0], ids[1]])
    }

    /// The log is renamed into place without an fsync: what a power cut may leave (an empty file, a line cut short,
    /// zeros) reads as no record, never as commits, and the next record replaces it.
    @Test func aPackCommitLogCutShortReadsAsNone() throws {
        let dir = try TemporaryDirectory(prefix: "pack-commits")
        let log = PackCommitLog(directory: dir.path, repositoryURL: Self.repositoryURL)
        let path = try #require(log.path)
        let one = ObjectID(hex: String(repeating: "1", count: 40))!
        log.record(one)
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for damaged in [[], Array(whole.prefix(whole.count / 2)), [UInt8](repeating: 0, count: whole.count)] {
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            #expect(log.load() == [], "\(damaged.count) bytes read as commits")
        }
        let two = ObjectID(hex: String(repeating: "2", count: 40))!
        log.record(two)
        #expect(log.load() == [two])
    }

    @Test func oldSpoolLimitsDecodeToTheSameLimits() throws {
        let expected = [
            "pack-commit.limits": PackLimits(
                maxObjects: 6, maxObjectBytes: 1_048_576, blobSizeLimit: 0,
                contents: .reachable(
                    from: [ObjectID(hex: "0123456789abcdef0123456789abcdef01234567")!], history: false),
                asked: "commit 0123456"),
            "pack-blobs.limits": PackLimits(
                maxObjects: 1, contents: .only([ObjectID(hex: "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")!]),
                asked: "the 1 blob asked for"),
        ]
        for (name, limits) in expected {
            let bytes = try RecordFixtures.bytes("spool-limits/" + name)
            #expect(GitPackSource.SpoolLimits.decode(bytes, path: name) == limits, "\(name)")
            let record = try GitPackSource.SpoolLimits(limits: limits).encodedRecord()
            #expect(RecordFixtures.isJSONRecord(record, format: GitPackSource.SpoolLimits.format))
            #expect(GitPackSource.SpoolLimits.decode(record, path: name) == limits, "\(name) as a JSON record")
        }
        #expect(GitPackSource.SpoolLimits.decode(Array("{\"maxObjects\":".utf8), path: "cut") == nil, "cut short")
    }
}
