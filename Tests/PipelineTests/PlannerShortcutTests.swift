import Glibc
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// `Planner.unchanged` (taken only when nothing is excluded) against the general rules (forced by an exclusion that
/// matches nothing): the same plan for every kind of path; and each rule's plan that counts its unchanged paths
/// without listing them (`listUnchanged: false`) against the one that lists them.
@Suite struct PlannerShortcutTests {
    @Test(arguments: [false, true]) func shortcutEqualsTheGeneralRules(keepLocal: Bool) throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let t = dir.path
        try TestFiles.write(t + "/sealed", "a", mode: 0o444)
        try TestFiles.write(t + "/sealedx", "x", mode: 0o555)
        try TestFiles.write(t + "/tox", "b", mode: 0o444)  // tree wants executable
        try TestFiles.write(t + "/fromx", "c", mode: 0o555)  // tree wants regular
        try TestFiles.write(t + "/chmodded", "d", mode: 0o644)
        try TestFiles.write(t + "/chowned", "e", mode: 0o444)
        chown(t + "/chowned", 65534, 65534)
        try TestFiles.write(t + "/edited", "local", mode: 0o444)
        symlink("same", t + "/lnsame")
        symlink("old", t + "/lnold")
        symlink("a", t + "/ln2file")
        try TestFiles.write(t + "/file2ln", "same", mode: 0o444)
        try TestFiles.write(t + "/d/x", "x", mode: 0o444)
        try TestFiles.write(t + "/a.b", "ab", mode: 0o444)
        try TestFiles.write(t + "/a/c", "ac", mode: 0o444)
        mkfifo(t + "/fifo", 0o644)
        try TestFiles.write(t + "/sub/inside", "i", mode: 0o444)
        let local = try TargetScanner().scan(target: t).tree
        var previous = Manifest()
        for (p, c) in [
            ("sealed", "a"), ("tox", "b"), ("chmodded", "d"), ("chowned", "e"), ("edited", "orig"), ("d/x", "x"),
        ] {
            previous[TreePath(p)] = Manifest.Entry(mode: .regular, id: blob(c))
        }
        var tree = FixtureTree()
        tree.files = [
            ("sealed", .regular, "a"), ("sealedx", .executable, "x"), ("tox", .executable, "b"),
            ("fromx", .regular, "c"),
            ("chmodded", .regular, "d"), ("chowned", .regular, "e"), ("edited", .regular, "orig"),
            ("lnsame", .symlink, "same"), ("lnold", .symlink, "new"), ("ln2file", .regular, "a"),
            ("file2ln", .symlink, "same"), ("d", .regular, "x"), ("a.b", .regular, "ab"), ("a/c", .regular, "ac"),
            ("fifo", .regular, "f"),
        ]
        tree.gitlinks = ["sub"]
        var fast = Planner(keepLocal: keepLocal)
        var slow = Planner(excludes: ExcludeSet(["no-such-name-zzz"]), keepLocal: keepLocal)
        for owner in [getuid(), 65534] {
            fast.installedOwner = owner
            slow.installedOwner = owner
            let a = fast.plan(listing: tree.listing, previous: previous, local: local)
            let b = slow.plan(listing: tree.listing, previous: previous, local: local)
            #expect(a.changes == b.changes)
            #expect(a.counts == b.counts)
            #expect(a.blobsNeeded == b.blobsNeeded)
            #expect(a.count(.unchanged) >= 3 || owner != getuid())
            // Counting the unchanged paths without listing them changes nothing else, by either rule.
            for (planner, full) in [(fast, a), (slow, b)] {
                let counted = planner.plan(
                    listing: tree.listing, previous: previous, local: local, listUnchanged: false)
                #expect(counted.changes == full.changes.filter { $0.kind != .unchanged })
                #expect(counted.counts == full.counts)
                #expect(counted.blobsNeeded == full.blobsNeeded)
                #expect(counted.hasWork == full.hasWork)
                #expect(counted.listsUnchanged == (full.count(.unchanged) == 0))
            }
        }
    }
}
