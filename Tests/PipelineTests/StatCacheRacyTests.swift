import Foundation
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The racy-git rule against the scan's own start: the scan runs while the ref is resolved and listed, so the cache is
/// written well after the files were read.
@Suite struct StatCacheRacyTests {
    @Test func aFileWrittenAgainInTheTickItWasHashedInIsHashedAgain() throws {
        let dir = try TemporaryDirectory(prefix: "racy-scan")
        let target = dir["target"]
        try TestFiles.write(target + "/sub/a.txt", "hello")
        try TestFiles.write(target + "/old.txt", "old")
        try TestFiles.setMtime(target + "/old.txt", ns: 1_600_000_000_123_456_789)
        // Written while the scan runs (after it started, before it looked), then again in the same tick once it has
        // been hashed: the stat data (ctime aside, not compared here) is as the scan saw it.
        var scanner = TargetScanner()
        scanner.beforeOpening = { path in
            if path == "sub" { try? TestFiles.write(target + "/sub/a.txt", "hello") }
        }
        var cache = try scanner.scan(target: target, cache: StatCache(trustCtime: false)).cache
        try sneakyEdit(target + "/sub/a.txt", "HELLO")
        // The cache is written later (a resolve and a listing later, in a real run): a later tick than both writes.
        usleep(30_000)
        try cache.save(to: dir["cache"])

        let loaded = try StatCache.load(from: dir["cache"], trustCtime: false)
        let again = try TargetScanner().scan(target: target, cache: loaded)
        #expect(again.tree["sub/a.txt"]?.id == blob("HELLO"))
        #expect(again.statistics.filesHashed == 1)
        // A file stamped before the scan started is cached as ever.
        #expect(again.statistics.cacheHits == 1)
        #expect(again.cache.entries["sub/a.txt"] != nil, "not racy for this scan: cached now")
    }

    @Test func aStampIsComparedAtTheGranularityItShows() {
        let start: Int64 = 1_700_000_001_500_000_123
        #expect(!StatCache.isRacy(start - 2_000_000_001, since: start))
        #expect(StatCache.isRacy(start, since: start))
        #expect(!StatCache.isRacy(start - 1, since: start))
        // Whole seconds (ext3): a write after the start, truncated, can be stamped before it.
        #expect(StatCache.isRacy(1_700_000_001_000_000_000, since: start))
        #expect(!StatCache.isRacy(1_699_999_999_000_000_000, since: start))
        // Two seconds (FAT): 1_700_000_000 is even, so a write at the start is stamped with it.
        #expect(StatCache.isRacy(1_700_000_000_000_000_000, since: start))
        // A stamp ending in zeros: the start truncated to as many.
        #expect(StatCache.isRacy(1_700_000_001_500_000_000, since: start))
        #expect(!StatCache.isRacy(1_700_000_001_499_999_000, since: start))
    }

    /// A cache the previous release wrote (format version 1: its scan did not leave racy files out), as it wrote it:
    /// read, but trusted for nothing, so the first scan after the upgrade hashes every file once; what it writes
    /// vouches again.
    @Test func aCacheOfThePreviousReleaseIsReadButVouchesForNothing() throws {
        let bytes = try RecordFixtures.bytes("stat-cache-v1")
        let cache = try #require(StatCache(encoded: bytes, timestampNs: .max))
        #expect(cache.entries.keys == ["conf/main.nix", "conf/other.nix", "run.sh", "z/\u{2603}"])
        #expect(cache.entries["conf/main.nix"]?.id == blob("main\n"))
        #expect(cache.entries["run.sh"]?.id == blob("#!/bin/sh\n"))
        #expect(cache.timestampNs == nil)
        for (path, entry) in cache.entries {
            #expect(cache.trustedID(of: entry, stat: entry.stat) == nil, "\(path)")
        }
        let rewritten = try #require(StatCache(encoded: cache.encoded(), timestampNs: .max))
        #expect(rewritten.entries == cache.entries)
        let entry = try #require(rewritten.entries["conf/main.nix"])
        #expect(rewritten.trustedID(of: entry, stat: entry.stat) == blob("main\n"))

        // Through a scan: a version 1 file of this target (the same bytes as this release's but for the version).
        let dir = try TemporaryDirectory(prefix: "v1-cache")
        let target = dir["target"]
        try TestFiles.write(target + "/conf/main.nix", "main\n")
        try TestFiles.write(target + "/conf/other.nix", "other\n")
        usleep(30_000)
        var fresh = try TargetScanner().scan(target: target).cache
        try fresh.save(to: dir["cache"])
        var old = try FileSystem.readFile(dir["cache"])
        old.replaceSubrange(4..<8, with: [1, 0, 0, 0])
        let digest = SHA1Hasher()
        digest.update(old[..<(old.count - 20)])
        old.replaceSubrange((old.count - 20)..., with: digest.finalize().bytes)
        _ = try FileSystem.writeFileAtomically(dir["cache"], old)
        let loaded = try StatCache.load(from: dir["cache"])
        #expect(loaded.entries.count == 2)
        let first = try TargetScanner().scan(target: target, cache: loaded)
        #expect(first.statistics.filesHashed == 2)
        #expect(first.tree["conf/other.nix"]?.id == blob("other\n"))
        var upgraded = first.cache
        try upgraded.save(to: dir["cache"])
        #expect(try FileSystem.readFile(dir["cache"])[4..<8] == [2, 0, 0, 0])
        let second = try TargetScanner().scan(target: target, cache: StatCache.load(from: dir["cache"]))
        #expect(second.statistics.cacheHits == 2)
        #expect(second.statistics.filesHashed == 0)
    }
}
