import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A staged switch links executables to their store twins (`….x`), made unsynced for the stage and published under
/// their names after its sync (``TwinBatch``): one sync for all of them, not an `fsync` each.
@Suite struct StagedTwinTests {
    private func apply(_ tree: FixtureTree, target: String, store: ObjectStore, previous: Manifest = Manifest()) throws
    {
        try tree.fill(store)
        let local = try TargetScanner().scan(target: target).tree
        let plan = Planner().plan(listing: tree.listing, previous: previous, local: local)
        _ = try StagedSwitchApplier().apply(plan, listing: tree.listing, store: store, target: target)
    }

    private func twin(_ store: ObjectStore, _ content: String) -> String {
        store.path(for: ObjectID.blob(Array(content.utf8))) + ".x"
    }

    @Test func aNewTargetsExecutablesAreTheirPublishedTwins() throws {
        let dir = try TemporaryDirectory(prefix: "staged-twins")
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        var tree = FixtureTree()
        tree.files = [
            ("bin/a", .executable, "#!/bin/sh\necho a\n"), ("bin/b", .executable, "#!/bin/sh\necho b\n"),
            ("copy/a", .executable, "#!/bin/sh\necho a\n"), ("plain", .regular, "#!/bin/sh\necho a\n"),
        ]
        try apply(tree, target: target, store: store)
        for (path, content) in [("bin/a", "#!/bin/sh\necho a\n"), ("bin/b", "#!/bin/sh\necho b\n")] {
            let file = TestFiles.lstat(target + "/" + path)
            #expect(file?.st_ino == TestFiles.lstat(twin(store, content))?.st_ino, "\(path) is its twin")
            #expect(file.map { $0.st_mode & 0o7777 } == 0o555)
        }
        #expect(TestFiles.lstat(target + "/copy/a")?.st_ino != TestFiles.lstat(target + "/bin/a")?.st_ino)
        #expect(TestFiles.read(target + "/copy/a") == "#!/bin/sh\necho a\n")
        #expect(TestFiles.lstat(target + "/plain").map { $0.st_mode & 0o7777 } == 0o444)
        #expect(try FileSystem.names(in: store.temporaryDirectory).isEmpty, "every twin copy was published")
    }

    @Test func anUpdateReplacesATwinWhoseSealBrokeAndLinksTheNewOne() throws {
        let dir = try TemporaryDirectory(prefix: "staged-twins")
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        var first = FixtureTree()
        first.files = [("keep.txt", .regular, "keep")]
        try apply(first, target: target, store: store)
        let script = "#!/bin/sh\necho update\n"
        let id = try store.insert(Array(script.utf8))
        let old = try store.executablePath(for: id)
        let oldInode = TestFiles.lstat(old)?.st_ino
        #expect(chmod(old, 0o775) == 0)  // a chmod made through some earlier target's hard link
        var second = first
        second.files.append(("run", .executable, script))
        try apply(second, target: target, store: store, previous: Manifest(listing: first.listing))
        let run = TestFiles.lstat(target + "/run")
        #expect(run?.st_ino == TestFiles.lstat(old)?.st_ino)
        #expect(run?.st_ino != oldInode, "the broken twin was not linked")
        #expect(run.map { $0.st_mode & 0o7777 } == 0o555)
        #expect(TestFiles.read(target + "/run") == script)
    }
}
