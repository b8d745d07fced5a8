import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The pass reads a file's entry of the new tree (``StageRecycler/desired(_:listing:)``) only off the common case: a
/// symlink, or a regular file the scan did not vouch for, is judged against its own path's entry, never a neighbour's.
extension StageRecyclerTests {
    /// The inode of `path` itself (a symlink not followed), held open so its number cannot be handed to a new file.
    private func held(_ path: String) -> (fd: Int32, inode: UInt64) {
        let oPath: Int32 = 0o10_000_000  // Linux's O_PATH (Glibc's module does not import it)
        let fd = open(path, oPath | O_NOFOLLOW | O_CLOEXEC)
        #expect(fd >= 0, "open \(path): errno \(errno)")
        var st = stat()
        #expect(fstat(fd, &st) == 0)
        return (fd, UInt64(st.st_ino))
    }

    /// A symlink the spare's tree and the new tree have alike (A's `link`) is read and kept: the same inode.
    @Test(arguments: [LinkMode.hardlink, .copy])
    func aSymlinkUnchangedSinceTheSparesTreeKeepsItsInode(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        for i in [0, 1, 2] { try await t.sync(i) }  // the spare holds A's tree, the target C's (another link)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: t.spare + "/link") == "d0/f0.nix")
        let link = held(t.spare + "/link")
        defer { close(link.fd) }

        let outcome = try await t.sync(0)
        #expect(outcome.applied?.recycled == true)
        try t.expectTarget(0)
        #expect(inode(t.target + "/link") == link.inode, "the spare's symlink was placed again")
    }

    /// In copy mode the spare's files are no store objects: with no scan to vouch for them, a file is kept only
    /// through ``GenerationTrust`` (the spare's stat cache), judged by its own path's entry.
    @Test func aCopyKeptOnlyThroughTheGenerationsTrustKeepsItsInode() async throws {
        let t = try await Setup(mode: .copy)
        for i in [0, 1, 2] { try await t.sync(i) }  // the spare holds A's tree
        let file = held(t.spare + "/d2/f2.nix")
        defer { close(file.fd) }
        let link = held(t.spare + "/link")
        defer { close(link.fd) }

        let source = try await LocalGitSource(path: t.repo.path)
        let listing = try await source.listing(for: try await source.resolve(t.commits[0]))
        let plan = Planner().plan(
            listing: listing, previous: Manifest(), local: try TargetScanner().scan(target: t.target).tree)
        let spare = Generation(sequence: 0, state: nil, tree: t.spare)
        let recycler = StageRecycler(store: t.runner.store, linkMode: .copy)
        let outcome = try recycler.recycle(
            stage: t.spare, target: t.target, cache: { spare.statCache() }, scanned: { nil }, listing: listing,
            plan: plan, beforePlacing: { _ in })

        #expect(outcome.keptByInode == 0, "no scan vouched for anything")
        #expect(outcome.readCache, "the spare's stat cache was not asked")
        #expect(outcome.kept[TreePath("d2/f2.nix")] != nil)
        #expect(inode(t.spare + "/d2/f2.nix") == file.inode, "a file the generation vouches for was written again")
        #expect(inode(t.spare + "/link") == link.inode, "an unchanged symlink was placed again")
        #expect(try String(contentsOfFile: t.spare + "/d2/f2.nix", encoding: .utf8) == "{ a = 2; }\n")
    }

    /// The listing read by a forward index while it is in path order, else by a table: a shuffled listing, and a
    /// gitlink among the files, give each file the same size.
    @Test func desiredSizesDoNotDependOnTheListingsOrder() throws {
        var tree = FixtureTree()
        tree.files = [
            ("a/one", .regular, "1"), ("a/two", .executable, "22"), ("b", .regular, "333"),
            ("c/d/e", .regular, "4444"), ("link", .symlink, "a/one"), ("z", .regular, "55555"),
        ]
        tree.gitlinks = ["c/mod"]  // between the files in path order
        let dirs = try TemporaryDirectory(prefix: "recycle-desired")
        let store = try ObjectStore(root: dirs["store"])
        let target = dirs["target"]
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let plan = try tree.firstSyncPlan(of: target, store: store)

        let listed = tree.listing
        var sorted = listed
        sorted.entries.sort { $0.path < $1.path }
        let want = Dictionary(uniqueKeysWithValues: tree.files.map { (TreePath($0.path), $0.content.utf8.count) })
        let n = sorted.entries.count
        // In order; reversed; out of order at the start; out of order only at the end, past the gitlink.
        let orders = [
            sorted.entries, sorted.entries.reversed(), Self.swapping(sorted.entries, 0),
            Self.swapping(sorted.entries, n - 2),
        ]
        for entries in orders {
            var listing = listed
            listing.entries = entries
            let desired = StageRecycler.desired(plan, listing: listing)
            #expect(desired.keys == tree.files.map { TreePath($0.path) }.sorted())
            for (path, entry) in zip(desired.keys, desired.values) {
                #expect(entry.size == want[path], "\(path) in \(entries.map(\.path))")
            }
        }
    }

    /// `entries` with the entries at `i` and `i + 1` swapped.
    private static func swapping(_ entries: [TreeEntry], _ i: Int) -> [TreeEntry] {
        var out = entries
        out.swapAt(i, i + 1)
        return out
    }
}
