import Foundation
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
@testable import SmartSyncPipeline
import TestSupport
import Testing

/// A run whose target already has the commit counts its unchanged paths without listing them
/// (``Plan/listsUnchanged``), and still finds and puts right a synced file edited in place.
@Suite(.serialized) struct NoOpPlanTests {
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func aNoOpListsNoPathAndAnEditInPlaceIsStillPutRight(mode: SyncRunner.ApplyMode) async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let repo = try GitFixture()
        try repo.write("conf.nix", "{ a = 1; }\n")
        try repo.write("sub/other.nix", "o1\n")
        try repo.write("sub/deeper/third.nix", "t1\n")
        _ = try repo.commit("A")
        let runner = try await SyncRunner.local(repo, in: dir, mode: mode)
        let target = dir["target"]
        let first = try await runner.sync(.init(ref: nil, target: target))
        #expect(first.plan.listsUnchanged && first.plan.count(.add) == 3)

        let noOp = try await runner.sync(.init(ref: nil, target: target))
        #expect(!noOp.plan.listsUnchanged)
        #expect(noOp.plan.changes.isEmpty)
        #expect(noOp.plan.count(.unchanged) == 3)
        #expect(noOp.summary.upToDate && noOp.summary.counts == ["unchanged": 3])
        #expect(noOp.applied == nil)
        // `plan` of the same commit: the same counts, nothing listed.
        let planned = try await runner.plan(.init(ref: nil, target: target))
        #expect(planned.plan.changes.isEmpty && planned.plan.count(.unchanged) == 3)

        // Written in place (the same inode, the same size, its mtime put back): only the scan's ctime sees it.
        try sneakyEdit(target + "/conf.nix", "{ a = 2; }\n")

        // Reported by a plan (which lists no unchanged path), then put right by a sync, which lists them to apply.
        let drift = try await runner.plan(.init(ref: nil, target: target))
        #expect(drift.plan.changes.map(\.path) == ["conf.nix"] && drift.plan.kind("conf.nix") == .modify)
        #expect(drift.plan.count(.unchanged) == 2 && drift.summary.localEdits == ["conf.nix"])
        let mended = try await runner.sync(.init(ref: nil, target: target))
        #expect(mended.plan.listsUnchanged)
        #expect(mended.plan.kind("conf.nix") == .modify && mended.plan.count(.unchanged) == 2)
        #expect(mended.plan.changes.count == 3)
        #expect(TestFiles.read(target + "/conf.nix") == "{ a = 1; }\n")
        #expect(TestFiles.read(target + "/sub/deeper/third.nix") == "t1\n")
        // The manifest recorded after it still claims every path, so the next run is a no-op again.
        let recorded = try #require(try runner.state.load(target: target))
        #expect(recorded.manifest.entries.keys == ["conf.nix", "sub/deeper/third.nix", "sub/other.nix"])
        let again = try await runner.sync(.init(ref: nil, target: target))
        #expect(again.plan.changes.isEmpty && again.plan.count(.unchanged) == 3 && again.summary.upToDate)
    }

    /// The manifest planned where it lies (a run at the commit the target has) plans as the tree listing made of it
    /// does, whether that listing shares the manifest's paths or holds copies of its own.
    @Test func theManifestPlansAsTheTreeListingMadeOfItDoes() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let t = dir.path
        var tree = FixtureTree()
        tree.files = [
            ("a.nix", .regular, "a"), ("directory/kept-as-it-is.nix", .regular, "k"),
            ("directory/edited-by-hand.nix", .regular, "e"), ("directory/gone-from-the-target.nix", .regular, "g"),
            ("scripts/run-the-thing.sh", .executable, "r"),
        ]
        try TestFiles.write(t + "/a.nix", "a", mode: 0o444)
        try TestFiles.write(t + "/directory/kept-as-it-is.nix", "k", mode: 0o444)
        try TestFiles.write(t + "/directory/edited-by-hand.nix", "edited", mode: 0o444)
        try TestFiles.write(t + "/directory/never-ours-untracked.nix", "u", mode: 0o444)
        try TestFiles.write(t + "/scripts/run-the-thing.sh", "r", mode: 0o555)
        let local = try TargetScanner().scan(target: t).tree
        let previous = Manifest(listing: tree.listing)
        let files = previous.entries
        let shared = TreeListing(
            commit: tree.listing.commit, rootTree: .emptyTree,
            entries: zip(files.keys, files.values).map { TreeEntry(path: $0, mode: $1.mode, id: $1.id) })
        let copied = TreeListing(
            commit: shared.commit, rootTree: .emptyTree,
            entries: shared.entries.map { TreeEntry(path: TreePath(bytes: $0.path.bytes), mode: $0.mode, id: $0.id) })
        // And the manifest itself as the listing (a run at the target's commit: no `TreeEntry` made per path).
        let manifest = CommitListing(commit: shared.commit, rootTree: .emptyTree, manifest: previous)
        #expect(manifest.treeListing == shared && manifest.fileCount == 5)
        for listUnchanged in [true, false] {
            let a = Planner().plan(listing: shared, previous: previous, local: local, listUnchanged: listUnchanged)
            let b = Planner().plan(listing: copied, previous: previous, local: local, listUnchanged: listUnchanged)
            let c = Planner().plan(listing: manifest, previous: previous, local: local, listUnchanged: listUnchanged)
            #expect(a == b && a == c)
            #expect(a.kind("directory/edited-by-hand.nix") == .modify)
            #expect(a.kind("directory/gone-from-the-target.nix") == .add)
            #expect(a.kind("directory/never-ours-untracked.nix") == .untracked)
            #expect(a.count(.unchanged) == 3 && (a.kind("a.nix") == .unchanged) == listUnchanged)
        }
        // The same plan in every mode: excludes, --keep-local, a scan that skipped directories, and a previous manifest
        // holding more than the listing (the intent's pending deletes in the union a run plans against).
        var pending = FixtureTree()
        pending.files = [("directory/never-ours-untracked.nix", .regular, "u"), ("gone/long-ago.nix", .regular, "l")]
        let union = previous.union(Manifest(listing: pending.listing))
        var skipping = local
        skipping.excluded = ["scripts", "elsewhere/skipped"]
        let excluding = Planner(excludes: ExcludeSet(["directory/never*"]))
        for planner in [Planner(), excluding, Planner(keepLocal: true)] {
            for (scanned, before) in [(local, previous), (skipping, previous), (local, union), (skipping, union)] {
                for listUnchanged in [true, false] {
                    let plans = [shared, copied].map {
                        planner.plan(listing: $0, previous: before, local: scanned, listUnchanged: listUnchanged)
                    }
                    let c = planner.plan(
                        listing: manifest, previous: before, local: scanned, listUnchanged: listUnchanged)
                    #expect(plans[0] == c && plans[1] == c)
                }
            }
        }
        // (Each mode plans something of its own here: the comparisons above see it at work.)
        let untracked: TreePath = "directory/never-ours-untracked.nix"
        #expect(Planner().plan(listing: manifest, previous: union, local: local).kind(untracked) == .delete)
        #expect(excluding.plan(listing: manifest, previous: previous, local: local).kind(untracked) == .excluded)
        let kept = Planner(keepLocal: true).plan(listing: manifest, previous: previous, local: local)
        #expect(kept.kind("directory/edited-by-hand.nix") == .conflict)
        let skipped = Planner().plan(listing: manifest, previous: previous, local: skipping)
        #expect(skipped.kind("elsewhere/skipped") == .excluded)
    }

    /// A plain no-op plans against the target's manifest as it lies: no tree listing is made of it (one is made for the
    /// apply of a run at the commit that puts an edit right), and a run without an exclude the manifest was applied
    /// with still lists the commit anew.
    @Test func aPlainNoOpMakesNoTreeListingOfTheManifest() async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let (repo, runner, log, target) = try await loggedRunOfTwoFiles(in: dir)
        func logged(_ request: SyncRunner.Request) async throws -> [String] {
            try await Self.logged(runner, log, request)
        }
        let made = "listing: the manifest made a tree listing, for the apply"
        #expect(try await !logged(.init(ref: nil, target: target)).contains { $0.contains(made) })  // the first sync
        let noOp = try await logged(.init(ref: nil, target: target))
        #expect(noOp.contains { $0.contains("listing: the target's manifest of this commit") })
        #expect(!noOp.contains { $0.contains(made) })
        // An edit in place at the commit: its apply takes the listing made of the manifest.
        try sneakyEdit(target + "/conf.nix", "{ a = 2; }\n")
        #expect(try await logged(.init(ref: nil, target: target)).contains { $0.contains(made) })
        #expect(TestFiles.read(target + "/conf.nix") == "{ a = 1; }\n")
        // Applied with an exclude, then run without it at the same commit: listed anew, nothing made of the manifest.
        try repo.write("sub/other.nix", "o2\n")
        _ = try repo.commit("B")
        _ = try await logged(.init(ref: nil, target: target, excludes: ["sub"]))
        #expect(TestFiles.read(target + "/sub/other.nix") == "o1\n")
        let dropped = try await logged(.init(ref: nil, target: target))
        #expect(dropped.contains { $0.contains("listed anew") } && !dropped.contains { $0.contains(made) })
        #expect(TestFiles.read(target + "/sub/other.nix") == "o2\n")
        let after = try await logged(.init(ref: nil, target: target))
        #expect(after.contains { $0.contains("the target's manifest of this commit") })
        #expect(!after.contains { $0.contains(made) })
        // An exclude over paths the commit did not change, then dropped: a no-op that lists anew (and records the
        // run's excludes), its excludes record taken from the listing, not from the manifest.
        try repo.write("conf.nix", "{ a = 3; }\n")
        _ = try repo.commit("C")
        _ = try await logged(.init(ref: nil, target: target, excludes: ["sub"]))
        let request = SyncRunner.Request(ref: nil, target: target)
        let relisted = try await logged(request)
        #expect(try runner.state.load(target: target)?.excludes == [])
        #expect(relisted.contains { $0.contains("listed anew") } && !relisted.contains { $0.contains(made) })
        #expect(relisted.contains { $0.contains("the run's excludes recorded") })
        #expect(try await logged(request).contains { $0.contains("the target's manifest of this commit") })
    }

    /// An applier, and the manifest to record, refuse a plan that does not list its unchanged paths: a stage or a
    /// manifest made from it would lack them (a library caller gets an error, not a trap).
    @Test func anApplierRefusesAPlanWithoutItsUnchangedPaths() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let commit = ObjectID.blob(Array("c".utf8))
        let plan = Plan(commit: commit, changes: [], blobsNeeded: [], unlistedUnchanged: 1)
        #expect(!plan.listsUnchanged && plan.count(.unchanged) == 1 && !plan.hasWork)
        let listing = TreeListing(commit: commit, rootTree: .emptyTree, entries: [])
        let store = try ObjectStore(root: dir["store"])
        let refusals = [
            try #require(throws: SmartSyncError.self) {
                try StagedSwitchApplier().apply(plan, listing: listing, store: store, target: dir["target"])
            },
            try #require(throws: SmartSyncError.self) {
                try InPlaceApplier().apply(plan, listing: listing, store: store, target: dir["target"])
            },
            try #require(throws: SmartSyncError.self) { try Planner().manifest(after: plan, previous: Manifest()) },
        ]
        for error in refusals {
            #expect(error.code == .internal, "\(error)")
            #expect(error.message.contains("does not list its unchanged paths"), "\(error.message)")
        }
        #expect(TestFiles.lstat(dir["target"]) == nil)
    }

    /// A plan a library caller encoded before ``Plan/listsUnchanged`` existed (no such key) still decodes, as a plan
    /// that lists its unchanged paths (every plan did then).
    @Test func aPlanJSONWithoutListsUnchangedDecodes() throws {
        let commit = ObjectID.blob(Array("c".utf8))
        let blob = ObjectID.blob(Array("x".utf8))
        let plan = Plan(
            commit: commit, changes: [Change(kind: .add, path: "a", mode: .regular, id: blob)],
            blobsNeeded: [NeededBlob(id: blob, path: "a", size: 1)])
        var object = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(plan)) as? [String: Any])
        #expect(object.removeValue(forKey: "listsUnchanged") as? Bool == true)
        let older = try JSONSerialization.data(withJSONObject: object)
        let decoded = try JSONDecoder().decode(Plan.self, from: older)
        #expect(decoded == plan)
        #expect(decoded.listsUnchanged)
        // And a plan that counts its unchanged paths keeps saying so.
        let counted = Plan(commit: commit, changes: [], blobsNeeded: [], unlistedUnchanged: 3)
        let again = try JSONDecoder().decode(Plan.self, from: try JSONEncoder().encode(counted))
        #expect(again == counted && !again.listsUnchanged)
    }

    /// The look-up for store objects written through a target's hard link is skipped on a plain no-op (the listing
    /// is the manifest, every path unchanged) and runs after an edit in place, and after a run whose listing was not
    /// the manifest (an exclude dropped at the same commit).
    @Test func theEditedThroughLookUpIsSkippedOnAPlainNoOpOnly() async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let (repo, runner, log, target) = try await loggedRunOfTwoFiles(in: dir)
        func skipped(_ request: SyncRunner.Request) async throws -> Bool {
            try await Self.logged(runner, log, request).contains { $0.contains("edited-through look-up skipped") }
        }
        #expect(try await !skipped(.init(ref: nil, target: target)))  // the first sync: another commit
        #expect(try await skipped(.init(ref: nil, target: target)))
        try sneakyEdit(target + "/conf.nix", "{ a = 2; }\n")
        #expect(try await !skipped(.init(ref: nil, target: target)))
        #expect(TestFiles.read(target + "/conf.nix") == "{ a = 1; }\n")
        #expect(try await skipped(.init(ref: nil, target: target)))
        // Applied with an exclude, then run without it: listed from the source, the look-up runs.
        try repo.write("sub/other.nix", "o2\n")
        _ = try repo.commit("B")
        #expect(try await !skipped(.init(ref: nil, target: target, excludes: ["sub"])))
        #expect(try await !skipped(.init(ref: nil, target: target)))
        #expect(TestFiles.read(target + "/sub/other.nix") == "o2\n")
        #expect(try await skipped(.init(ref: nil, target: target)))
    }
}

extension NoOpPlanTests {
    /// A repository of two files at commit A (`conf.nix`, `sub/other.nix`), a staged-switch runner of it logging to
    /// the returned handler, and the target's path (not synced yet).
    fileprivate func loggedRunOfTwoFiles(in dir: TemporaryDirectory) async throws
        -> (repo: GitFixture, runner: SyncRunner, log: RecordingLogHandler, target: String)
    {
        let repo = try GitFixture()
        try repo.write("conf.nix", "{ a = 1; }\n")
        try repo.write("sub/other.nix", "o1\n")
        _ = try repo.commit("A")
        var runner = try await SyncRunner.local(repo, in: dir, mode: .stagedSwitch)
        let log = RecordingLogHandler()
        runner.logger = log.logger
        return (repo, runner, log, dir["target"])
    }

    /// The lines `runner` logged to `log` while it synced `request`.
    fileprivate static func logged(_ runner: SyncRunner, _ log: RecordingLogHandler, _ request: SyncRunner.Request)
        async throws -> [String]
    {
        let before = log.recorded.count
        _ = try await runner.sync(request)
        return Array(log.recorded.dropFirst(before))
    }
}
