import Glibc
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

@Suite struct PlannerTests {
    @Test func everyKind() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let t = dir.path
        // On disk. What the previous sync put there is read-only, as a sync installs it.
        try TestFiles.write(t + "/keep.txt", "keep", mode: 0o444)
        try TestFiles.write(t + "/del.txt", "del", mode: 0o444)
        try TestFiles.write(t + "/edited.txt", "edited by user")
        try TestFiles.write(t + "/untracked.txt", "mine")
        try TestFiles.write(t + "/mod.txt", "old")
        try TestFiles.write(t + "/exec.sh", "script")
        symlink("a", t + "/ln")
        try TestFiles.write(t + "/f2l", "file")
        try TestFiles.write(t + "/dirfile/x", "x", mode: 0o444)  // ours: a directory replaced by a file
        try TestFiles.write(t + "/dirblocked/u", "not ours")
        try TestFiles.write(t + "/fileway", "not ours")
        try TestFiles.write(t + "/oursway", "ours", mode: 0o444)
        try TestFiles.write(t + "/secrets/k", "local secret")
        mkfifo(t + "/fifo", 0o644)
        let local = try TargetScanner().scan(target: t).tree

        var previous = Manifest()
        for (p, c) in [
            ("keep.txt", "keep"), ("del.txt", "del"), ("edited.txt", "original"), ("dirfile/x", "x"),
            ("oursway", "ours"), ("gone.txt", "gone"), ("f2l", "file"),
        ] {
            previous[TreePath(p)] = Manifest.Entry(mode: .regular, id: blob(c))
        }
        var tree = FixtureTree()
        tree.files = [
            ("keep.txt", .regular, "keep"), ("mod.txt", .regular, "new"), ("exec.sh", .executable, "script"),
            ("ln", .symlink, "b"), ("new.txt", .regular, "dup"), ("new2.txt", .regular, "dup"),
            ("f2l", .symlink, "target"), ("dirfile", .regular, "now a file"), ("dirblocked", .regular, "want"),
            ("fileway/y", .regular, "y"), ("oursway/z", .regular, "z"), ("secrets/k", .regular, "remote"),
            ("fifo", .regular, "f"),
        ]
        tree.gitlinks = ["sub"]
        let planner = Planner(excludes: ExcludeSet(["secrets"]))
        let plan = planner.plan(listing: tree.listing, previous: previous, local: local)

        #expect(plan.kind("keep.txt") == .unchanged)
        #expect(plan.kind("del.txt") == .delete)
        #expect(plan.kind("edited.txt") == .conflict)  // user edited: kept, not deleted
        #expect(plan.kind("untracked.txt") == .untracked)
        #expect(plan.kind("mod.txt") == .modify)
        #expect(plan.kind("exec.sh") == .mode)
        #expect(plan.kind("ln") == .symlink)
        #expect(plan.kind("new.txt") == .add)
        #expect(plan.kind("f2l") == .typeChange)
        #expect(plan.change("f2l")?.localKind == .regular)
        #expect(plan.kind("dirfile") == .typeChange)
        #expect(plan.change("dirfile")?.localKind == .directory)
        #expect(plan.kind("dirfile/x") == .delete)
        #expect(plan.kind("dirblocked") == .blocked)
        #expect(plan.kind("dirblocked/u") == .untracked)
        #expect(plan.kind("fileway/y") == .blocked)
        #expect(plan.kind("fileway") == .untracked)
        #expect(plan.kind("oursway") == .delete)
        #expect(plan.kind("oursway/z") == .add)
        #expect(plan.kind("secrets/k") == .excluded)
        #expect(plan.kind("sub") == .submodule)
        #expect(plan.kind("fifo") == .blocked)
        #expect(plan.change("gone.txt") == nil)  // already gone: nothing to do
        #expect(!plan.isComplete)
        #expect(plan.count(.delete) == 3)

        // Each distinct blob once; nothing for unchanged, excluded or submodule paths.
        let ids = plan.blobsNeeded.map(\.id)
        #expect(Set(ids).count == ids.count)
        #expect(ids.filter { $0 == blob("dup") }.count == 1)
        #expect(!ids.contains(blob("keep")))
        #expect(!ids.contains(blob("remote")))
        #expect(!ids.contains(blob("want")))  // blocked
        // The exec-bit flip's content is already on disk: the store can be fed from it.
        #expect(plan.blobsNeeded.first { $0.id == blob("script") }?.localPath == "exec.sh")

        // The manifest afterwards: written + unchanged, no deletes, no conflicts.
        let after = try planner.manifest(after: plan, previous: previous)
        #expect(after["keep.txt"] != nil && after["new.txt"] != nil && after["exec.sh"]?.mode == .executable)
        #expect(after["del.txt"] == nil && after["edited.txt"] == nil && after["dirblocked"] == nil)
    }

    /// The runner records the manifest after the switch from the plan and what ``Planner/carriedOver(from:)`` kept of
    /// the previous one, not from the previous manifest (no longer held then): the two must be the same manifest.
    @Test func theManifestMadeFromWhatIsCarriedOverIsTheManifest() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        try TestFiles.write(dir.path + "/keep.txt", "keep", mode: 0o444)
        try TestFiles.write(dir.path + "/secrets/k", "local secret")
        try TestFiles.write(dir.path + "/old.txt", "old", mode: 0o444)
        let local = try TargetScanner().scan(target: dir.path).tree
        var previous = Manifest()
        for (p, c) in [("keep.txt", "keep"), ("secrets/k", "secret of the last sync"), ("old.txt", "old")] {
            previous[TreePath(p)] = Manifest.Entry(mode: .regular, id: blob(c))
        }
        var tree = FixtureTree()
        tree.files = [("keep.txt", .regular, "keep"), ("new.txt", .regular, "new"), ("secrets/k", .regular, "remote")]

        let planner = Planner(excludes: ExcludeSet(["secrets"]))
        let plan = planner.plan(listing: tree.listing, previous: previous, local: local)
        let carried = planner.carriedOver(from: previous)
        #expect(carried.entries.keys == ["secrets/k"])
        let after = try planner.manifest(after: plan, previous: previous)
        #expect(try planner.manifest(after: plan, previous: carried) == after)
        #expect(after.entries.keys == ["keep.txt", "new.txt", "secrets/k"])
        #expect(after["secrets/k"]?.id == blob("secret of the last sync"))

        // Without exclusions nothing is carried over.
        let plain = Planner()
        #expect(plain.carriedOver(from: previous).isEmpty)
        let plainPlan = plain.plan(listing: tree.listing, previous: previous, local: local)
        #expect(
            try plain.manifest(after: plainPlan, previous: Manifest())
                == plain.manifest(after: plainPlan, previous: previous))
    }

    @Test func directoryReplacedOnlyWhenWhollyOurs() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        try TestFiles.write(dir["d/ours"], "o", mode: 0o444)
        try TestFiles.write(dir["d/sub/edited"], "changed")
        let local = try TargetScanner().scan(target: dir.path).tree
        var previous = Manifest()
        previous["d/ours"] = Manifest.Entry(mode: .regular, id: blob("o"))
        previous["d/sub/edited"] = Manifest.Entry(mode: .regular, id: blob("orig"))
        var tree = FixtureTree()
        tree.files = [("d", .regular, "file now")]
        let plan = Planner().plan(listing: tree.listing, previous: previous, local: local)
        #expect(plan.kind("d") == .blocked)
        #expect(plan.kind("d/ours") == .delete)
        #expect(plan.kind("d/sub/edited") == .conflict)
    }

    @Test func aChmodOrChownOfASyncedFileIsALocalEditThatIsInstalledAnewNeverDeleted() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        try TestFiles.write(dir["sealed"], "a", mode: 0o444)
        try TestFiles.write(dir["chmodded"], "b", mode: 0o600)
        try TestFiles.write(dir["chowned"], "c", mode: 0o444)
        chown(dir["chowned"], 65534, 65534)
        try TestFiles.write(dir["gone-chmodded"], "d", mode: 0o640)
        let local = try TargetScanner().scan(target: dir.path).tree
        var previous = Manifest()
        for (p, c) in [("sealed", "a"), ("chmodded", "b"), ("chowned", "c"), ("gone-chmodded", "d")] {
            previous[TreePath(p)] = Manifest.Entry(mode: .regular, id: blob(c))
        }
        var tree = FixtureTree()
        tree.files = [("sealed", .regular, "a"), ("chmodded", .regular, "b"), ("chowned", .regular, "c")]
        let planner = Planner()
        let plan = planner.plan(listing: tree.listing, previous: previous, local: local)
        #expect(plan.kind("sealed") == .unchanged)
        #expect(plan.kind("chmodded") == .mode)
        #expect(plan.change("chmodded")?.note?.contains("permissions 600") == true)
        #expect(plan.kind("chowned") == .mode)
        #expect(plan.change("chowned")?.note?.contains("owner") == true)
        #expect(plan.change("chmodded")?.localMetadata?.permissions == 0o600)
        #expect(plan.kind("gone-chmodded") == .conflict, "a file with the operator's mode was deleted")
        #expect(planner.localEdits(in: plan, previous: previous) == ["chmodded", "chowned"])
        // Nothing to fetch: the content is the tree's.
        #expect(plan.blobsNeeded.allSatisfy { $0.localPath != nil })
    }

    @Test func emptyTargetIsAllAdds() throws {
        var tree = FixtureTree()
        tree.files = [("a", .regular, "1"), ("b/c", .executable, "2"), ("l", .symlink, "a")]
        let plan = Planner().plan(listing: tree.listing, previous: Manifest(), local: LocalTree())
        #expect(plan.count(.add) == 2)
        #expect(plan.count(.symlink) == 1)
        #expect(plan.blobsNeeded.count == 3)
        #expect(plan.changes.map(\.path) == ["a", "b/c", "l"])
    }
}

import Foundation

@Suite struct PlanCodingTests {
    @Test func planEncodesAsJSON() throws {
        var tree = FixtureTree()
        tree.files = [("a", .regular, "1"), ("l", .symlink, "a")]
        let plan = Planner().plan(listing: tree.listing, previous: Manifest(), local: LocalTree())
        let data = try JSONEncoder().encode(plan)
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains("\"counts\":{"))
        #expect(json.contains("\"add\":1"))
        #expect(try JSONDecoder().decode(Plan.self, from: data) == plan)
    }
}
