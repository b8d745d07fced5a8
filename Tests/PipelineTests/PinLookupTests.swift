import Foundation
import Glibc
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A sync finds a pin by its commit without reading the listings of the others: several pins of large trees cost a
/// sync that does not use them one small read, and one pin that cannot be read hides no other.
@Suite(.serialized) struct PinLookupTests {
    /// A repository of one commit, a store and state directory, and a runner on them.
    private struct Setup {
        let dir: TemporaryDirectory
        let repo: GitFixture
        let commit: String
        let store: ObjectStore
        let runner: SyncRunner

        init() async throws {
            dir = try TemporaryDirectory(prefix: "sync-tests")
            repo = try GitFixture()
            try repo.write("conf.nix", "{ pinned = true; }\n")
            commit = try repo.commit("one")
            store = try ObjectStore(root: dir["store"])
            runner = SyncRunner(
                source: try await LocalGitSource(path: repo.path), store: store,
                state: try StateStore(root: dir["state"]))
        }
    }

    /// What this process has read so far (`rchar` of /proc/self/io: every read, from files, pipes and the page cache).
    private static func bytesRead() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/io", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("rchar:") })
        return try #require(Int(line.dropFirst("rchar:".count).trimmingCharacters(in: .whitespaces)))
    }

    @Test func aSyncReadsNoListingOfPinsItDoesNotUse() async throws {
        let s = try await Setup()
        defer { s.dir.remove() }
        // Three pins of 20,000-file trees, of commits this sync has nothing to do with.
        for n in 0..<3 {
            let entries = (0..<20_000).map {
                TreeEntry(path: TreePath("tree-\(n)/file-\($0).nix"), mode: .regular, id: blob("\(n)/\($0)"), size: 12)
            }
            try await PinStore(store: s.store).pin(
                "release-\(n)",
                listing: TreeListing(commit: blob("commit \(n)"), rootTree: blob("tree \(n)"), entries: entries))
        }
        let pinBytes = try FileSystem.names(in: s.store.root + "/pins").reduce(0) {
            $0 + ((try? FileSystem.readFile(s.store.root + "/pins/" + $1).count) ?? 0)
        }
        #expect(pinBytes > 3_000_000)
        let before = try Self.bytesRead()
        let outcome = try await s.runner.plan(.init(ref: s.commit, target: s.dir["target"]))
        let read = try Self.bytesRead() - before
        #expect(outcome.summary.counts["add"] == 1)
        #expect(read < 256 << 10, "the plan read \(read) bytes; the pins it does not use hold \(pinBytes)")
    }

    @Test func aPinThatCannotBeReadHidesNoOther() async throws {
        let s = try await Setup()
        defer { s.dir.remove() }
        _ = try await s.runner.warm(refs: [s.commit], pin: true)
        // A pin file the disk cannot read (a directory stands in for an I/O error: its read fails with EISDIR).
        try FileSystem.makeDirectories(s.store.root + "/pins/" + String(repeating: "0", count: 40))
        // The source is gone: only the pin can give the commit.
        try FileManager.default.removeItem(atPath: s.repo.path)
        let outcome = try await s.runner.sync(.init(ref: s.commit, target: s.dir["target"]))
        #expect(outcome.switched)
        #expect(TestFiles.read(s.dir["target"] + "/conf.nix") == "{ pinned = true; }\n")
    }
}
