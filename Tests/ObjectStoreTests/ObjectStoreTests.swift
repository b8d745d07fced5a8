import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@Suite("ObjectStore")
struct ObjectStoreTests {
    /// Holds the store (`root`); removed with the suite.
    let scratch: TemporaryDirectory
    var root: String { scratch["store"] }

    init() throws {
        scratch = try TemporaryDirectory(prefix: "store-test")
        _ = try ObjectStore(root: root)
    }

    @Test func insertPublishesReadOnlyVerifiedObject() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let content = Array("hello\n".utf8)
        let id = try store.insert(content)
        #expect(id.hex == "ce013625030ba8dba906f756967f9e9ca394464a")
        #expect(store.contains(id))
        let path = store.path(for: id)
        #expect(path.hasSuffix("/objects/ce/013625030ba8dba906f756967f9e9ca394464a"))
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? Int) == 0o444)
        #expect(try store.read(id) == content)
        // Nothing left behind in tmp.
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
    }

    @Test func writerRejectsWrongContentAndLeavesNothing() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let expected = ObjectID.blob(Array("right".utf8))
        let writer = try store.makeWriter(expecting: expected, size: 5)
        try Array("wrong".utf8).withUnsafeBytes { try writer.write($0) }
        #expect(throws: SmartSyncError.self) { try writer.commit() }
        #expect(!store.contains(expected))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
    }

    @Test func writerRejectsShortAndLongContent() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let content = Array("0123456789".utf8)
        let id = ObjectID.blob(content)
        let short = try store.makeWriter(expecting: id, size: 10)
        try content[0..<5].withUnsafeBytes { try short.write($0) }
        do {
            try short.commit()
            Issue.record("a short object was committed")
        } catch let error as SmartSyncError {
            #expect(error.code == .integrity)
            #expect(error.message.contains("5 of 10"))
        }
        let long = try store.makeWriter(expecting: id, size: 10)
        try content.withUnsafeBytes { try long.write($0) }
        #expect(throws: SmartSyncError.self) { try [UInt8(1)].withUnsafeBytes { try long.write($0) } }
        long.abort()
        #expect(!store.contains(id))
    }

    @Test func executableTwinIsSeparateInodeWithSameBytes() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let id = try store.insert(Array("#!/bin/sh\necho hi\n".utf8))
        let twin = try store.executablePath(for: id)
        let a = try FileManager.default.attributesOfItem(atPath: store.path(for: id))
        let b = try FileManager.default.attributesOfItem(atPath: twin)
        #expect((b[.posixPermissions] as? Int) == 0o555)
        #expect((a[.systemFileNumber] as? Int) != (b[.systemFileNumber] as? Int))
        #expect(try FileSystem.readFile(twin) == store.read(id))
        #expect(try store.executablePath(for: id) == twin)
    }

    @Test func insertFileVerifiesAgainstExpectation() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let file = root + "/input"
        try FileSystem.writeFileAtomically(file, Array(repeating: 7, count: 300_000))
        let id = try store.insertFile(atPath: file)
        #expect(store.size(of: id) == 300_000)
        #expect(throws: SmartSyncError.self) { try store.insertFile(atPath: file, expecting: .emptyBlob) }
    }

    @Test func secondLockOnStoreIsRefusedWithHolder() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let first = try store.lock()
        do {
            _ = try store.lock()
            Issue.record("a second lock was granted")
        } catch let error as SmartSyncError {
            #expect(error.code == .locked)
            #expect(error.message.contains("process \(getpid())"))
        }
        first.release()
        let again = try store.lock()
        again.release()
    }

    /// A symlink planted at an object's path is never followed: `read` names the object in an integrity error and
    /// never returns the link target's bytes (here a secret outside the store).
    @Test func readRefusesASymlinkAtAnObjectPath() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let secret = scratch["secret"]
        try FileSystem.writeFileAtomically(secret, Array("root:x:0:0\n".utf8))
        let id = ObjectID.blob(Array("the object\n".utf8))
        let path = store.path(for: id)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(symlink(secret, path) == 0)
        do {
            let bytes = try store.read(id)
            Issue.record("read the link's target: \(bytes.count) bytes")
        } catch let error as SmartSyncError {
            #expect(error.code == .integrity, "\(error)")
            #expect(error.message.contains(id.hex), "\(error.message)")
            #expect(!error.message.contains("root:x"))
        }
        // An absent object is still an ordinary "no such file".
        let absent = ObjectID.blob(Array("absent".utf8))
        #expect { try store.read(absent) } throws: { ($0 as? SmartSyncError)?.code == .io }
    }

    /// Damage at an object's path is the local store's (its own cause, the fsck hint), and a path that cannot be
    /// looked at says why (`ENOTDIR`: a file where the fan-out directory should be), not "no such file" (found by
    /// the review: the lstat's errno was replaced by ENOENT).
    @Test func readSaysWhyAnObjectCannotBeRead() throws {
        let store = try ObjectStore(root: root)
        defer { scratch.remove() }
        let planted = ObjectID.blob(Array("planted\n".utf8))
        let path = store.path(for: planted)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        #expect {
            try store.read(planted)
        } throws: {
            guard let error = $0 as? SmartSyncError else { return false }
            return error.isStoreDamage && error.hint?.contains("fsck --repair") == true
        }
        let blocked = ObjectID.blob(Array("behind a file\n".utf8))
        let fanOut = (store.path(for: blocked) as NSString).deletingLastPathComponent
        try? FileManager.default.removeItem(atPath: fanOut)
        try FileSystem.writeFileAtomically(fanOut, Array("not a directory".utf8))
        #expect {
            try store.read(blocked)
        } throws: {
            ($0 as? SmartSyncError)?.message.contains(String(cString: strerror(ENOTDIR))) == true
        }
    }
}

@Suite("ObjectStore temporaries")
struct ObjectStoreTemporariesTests {
    /// Age is the inode's (ctime): an old mtime (a sealed copy's 1970) does not make a temporary stale.
    @Test func staleTemporariesAreRemovedFreshOnesKept() throws {
        let scratch = try TemporaryDirectory(prefix: "store-tmp")
        defer { scratch.remove() }
        let store = try ObjectStore(root: scratch["store"])
        let stamped = store.temporaryDirectory + "/stamped"
        let fresh = store.temporaryDirectory + "/fresh"
        try FileSystem.writeFileAtomically(stamped, [1])
        try FileSystem.writeFileAtomically(fresh, [2])
        let old = Date().addingTimeInterval(-3 * 24 * 3600)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: stamped)
        #expect(store.removeStaleTemporaries() == 0)
        #expect(FileManager.default.fileExists(atPath: stamped))
        let twoDaysOn = Int(Date().timeIntervalSince1970) + 2 * 24 * 3600
        #expect(store.removeStaleTemporaries(now: twoDaysOn) == 2)
        #expect(!FileManager.default.fileExists(atPath: stamped))
        #expect(!FileManager.default.fileExists(atPath: fresh))
    }

    /// Every temporary of the store is named by one builder (``FileSystem/temporaryName(_:)``), with the shapes an
    /// earlier release wrote (a prefix naming what it is, then random hex: 8 digits for a twin's copy there, 16 here).
    /// The shapes are checked so that a change to the builder is seen; the cleanup of `tmp/` goes by age alone, so
    /// leftovers an earlier release named and those this one names are both kept while fresh and removed once stale.
    @Test func leftoversNamedByAnEarlierReleaseAreRecognisedAsThisReleasesAre() throws {
        let scratch = try TemporaryDirectory(prefix: "store-tmp-names")
        defer { scratch.remove() }
        let store = try ObjectStore(root: scratch["store"])
        let id = try store.insert(Array("#!/bin/sh\necho names\n".utf8))
        let hex = id.hex
        let earlier = [
            "x-\(hex)-1a2b3c4d", "reseal-\(hex)-0123456789abcdef", "\(hex)-fedcba987654321", "new-tree-f0f0f0f0f0f0f0f",
            "\(hex)-part-ff00ff00ff00ff0",
        ]
        for name in earlier { try TestFiles.write(store.temporaryDirectory + "/" + name, "left by an earlier run") }
        // This release's, named by the code that makes them (each held open, as a run killed mid-write holds it).
        let batch = TwinBatch(store: store)
        let copy = try batch.linkablePath(for: id)
        let writer = try store.makeWriter(expecting: id, size: 1)
        let partial = try #require(
            try store.openPartial(expecting: id, size: 1, url: "https://example.invalid/", keep: false))
        let made = try FileSystem.names(in: store.temporaryDirectory).filter { !earlier.contains($0) }.sorted()
        #expect(made.count == 3, "\(made)")
        #expect(copy.hasSuffix("/" + (made.first { $0.hasPrefix("x-") } ?? "none")))
        let random = "[0-9a-f]{1,16}"
        for (shape, what) in [("x-\(hex)-\(random)", "a twin's copy"), ("\(hex)-part-\(random)", "a private partial"),
            ("\(hex)-\(random)", "an object being written")]
        {
            let pattern = try Regex(shape)
            #expect(made.contains { $0.wholeMatch(of: pattern) != nil }, "no \(what) named \(shape) in \(made)")
            #expect(earlier.contains { $0.wholeMatch(of: pattern) != nil }, "the earlier names lack \(what)")
        }
        #expect(store.removeStaleTemporaries() == 0, "fresh leftovers are kept, whoever named them")
        let twoDaysOn = Int(Date().timeIntervalSince1970) + 2 * 24 * 3600
        #expect(store.removeStaleTemporaries(now: twoDaysOn) == earlier.count + made.count)
        #expect(try FileSystem.names(in: store.temporaryDirectory).isEmpty)
        withExtendedLifetime((batch, writer, partial)) {}
    }
}
