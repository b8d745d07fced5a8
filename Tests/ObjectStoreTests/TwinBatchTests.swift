import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

/// Executable twins made for a stage: copied unsynced, published under their name only after one sync.
@Suite("TwinBatch")
struct TwinBatchTests {
    let scratch: TemporaryDirectory
    var root: String { scratch["store"] }

    init() throws {
        scratch = try TemporaryDirectory(prefix: "twin-batch")
    }

    private func inode(_ path: String) -> ino_t? { TestFiles.lstat(path)?.st_ino }

    @Test func aMissingTwinIsACopyInTmpUntilPublishedThenTheTwinIsThatInode() throws {
        defer { scratch.remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("#!/bin/sh\necho batch\n".utf8))
        let twin = store.path(for: id) + ".x"
        let batch = TwinBatch(store: store)
        let copy = try batch.linkablePath(for: id)
        #expect(copy.hasPrefix(store.temporaryDirectory + "/"))
        #expect(!TestFiles.exists(twin), "no twin's name before its bytes are synced")
        #expect(try batch.linkablePath(for: id) == copy, "one copy per blob")
        #expect(batch.count == 1)
        let linked = scratch["stage-file"]
        #expect(link(copy, linked) == 0)
        try batch.publish()
        #expect(batch.count == 0)
        #expect(!TestFiles.exists(copy))
        #expect(inode(twin) == inode(linked), "the stage's file is the store's twin")
        #expect(TestFiles.lstat(twin).map { $0.st_mode & 0o7777 } == 0o555)
        #expect(try FileSystem.readFile(twin) == store.read(id))
        #expect(try store.executablePath(for: id) == twin, "the published twin is sealed: used as it is")
    }

    @Test func aSealedTwinIsLinkedAsItIsAndNothingIsCopied() throws {
        defer { scratch.remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("#!/bin/sh\necho sealed\n".utf8))
        let twin = try store.executablePath(for: id)
        let batch = TwinBatch(store: store)
        #expect(try batch.linkablePath(for: id) == twin)
        #expect(batch.count == 0)
        #expect(try FileSystem.names(in: store.temporaryDirectory).isEmpty)
    }

    @Test func aTwinWhoseSealBrokeIsReplacedOnPublish() throws {
        defer { scratch.remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("#!/bin/sh\necho chmod\n".utf8))
        let twin = try store.executablePath(for: id)
        let before = inode(twin)
        #expect(chmod(twin, 0o755) == 0)  // a chmod through a target's hard link
        let batch = TwinBatch(store: store)
        let copy = try batch.linkablePath(for: id)
        #expect(copy != twin)
        try batch.publish()
        #expect(inode(twin) != before)
        #expect(TestFiles.lstat(twin).map { $0.st_mode & 0o7777 } == 0o555)
    }

    @Test func aBatchNeverPublishedLeavesNoTwinAndNoCopy() throws {
        defer { scratch.remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("#!/bin/sh\necho dropped\n".utf8))
        var linked = ""
        do {
            let batch = TwinBatch(store: store)
            let copy = try batch.linkablePath(for: id)
            linked = scratch["kept-by-the-stage"]
            #expect(link(copy, linked) == 0)
        }
        #expect(!TestFiles.exists(store.path(for: id) + ".x"))
        #expect(try FileSystem.names(in: store.temporaryDirectory).isEmpty)
        #expect(try FileSystem.readFile(linked) == store.read(id), "a stage's link keeps its inode")
    }

    @Test func anObjectNotInTheStoreIsNotFound() throws {
        defer { scratch.remove() }
        let store = try ObjectStore(root: root)
        let batch = TwinBatch(store: store)
        #expect(throws: SmartSyncError.self) { try batch.linkablePath(for: ObjectID.blob(Array("absent".utf8))) }
    }

    /// A concurrent run's start (``ObjectStore/removeStaleTemporaries(olderThan:now:)``) must not take a batch's copy:
    /// the copy carries the sealed mtime (1970); by that it looked 56 years old.
    @Test func aConcurrentRunsStaleTemporaryCleanupLeavesTheBatchsCopies() throws {
        defer { scratch.remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("#!/bin/sh\necho race\n".utf8))
        let batch = TwinBatch(store: store)
        let copy = try batch.linkablePath(for: id)
        #expect(link(copy, scratch["stage-file"]) == 0)
        let removed = store.removeStaleTemporaries()  // another sync sharing the store starts now
        #expect(removed == 0, "a fresh batch copy was taken as a stale temporary")
        #expect(TestFiles.exists(copy))
        #expect(throws: Never.self) { try batch.publish() }
        #expect(TestFiles.exists(store.path(for: id) + ".x"))
    }

    /// A copy that went from `tmp/` (by hand, or an older release's cleanup by mtime) is made again when asked for,
    /// and skipped by ``TwinBatch/publish()``: the stage's link keeps its inode, the twin is made another time.
    @Test func aCopyGoneFromTmpIsCopiedAgainOrSkippedOnPublish() throws {
        defer { scratch.remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("#!/bin/sh\necho gone\n".utf8))
        let other = try store.insert(Array("#!/bin/sh\necho other\n".utf8))
        let batch = TwinBatch(store: store)
        let first = try batch.linkablePath(for: id)
        #expect(unlink(first) == 0)
        let again = try batch.linkablePath(for: id)
        #expect(TestFiles.exists(again), "asked again, the copy is made again")
        let linked = try batch.linkablePath(for: other)
        #expect(link(linked, scratch["stage-file"]) == 0)
        #expect(unlink(linked) == 0)
        try batch.publish()
        #expect(TestFiles.exists(store.path(for: id) + ".x"))
        #expect(!TestFiles.exists(store.path(for: other) + ".x"), "its copy was gone: no twin, no failure")
        #expect(try FileSystem.readFile(scratch["stage-file"]) == store.read(other))
    }
}
