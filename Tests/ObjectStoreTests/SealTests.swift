import Foundation
import Glibc
import SmartSyncCore
import SmartSyncObjectStore
import Testing

/// The seal on published objects and the check before a link: what a write, a `chmod` or an earlier release's
/// unsealed object looks like, and how the store mends itself.
@Suite("object seals and the check before linking")
struct SealTests {
    let root = NSTemporaryDirectory() + "seal-test-" + UUID().uuidString

    private func stat(_ path: String) -> stat {
        var st = Glibc.stat()
        lstat(path, &st)
        return st
    }

    private func remove() {
        chmod(root, 0o700)
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test func publishedObjectsAndTwinsAreSealedAndPassWithoutAHash() throws {
        defer { remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("sealed\n".utf8))
        let st = stat(store.path(for: id))
        #expect(st.st_mtim.tv_sec == 1 && st.st_mtim.tv_nsec == 0)
        #expect(Seal.breach(of: st, executable: false, size: 7) == nil)
        #expect(Seal.breach(of: st, executable: false, size: 8) == .size(7))
        #expect(try store.condition(of: id, size: 7, repair: true) == .sealed)
        let twin = try store.executablePath(for: id)
        #expect(Seal.breach(of: stat(twin), executable: true, size: 7) == nil)
        // The store directory is private.
        #expect(stat(root).st_mode & 0o777 == 0o700)
    }

    @Test func aWriteThroughAHardLinkIsFoundAndQuarantined() throws {
        defer { remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("original\n".utf8))
        let target = root + "-target"
        defer { unlink(target) }
        #expect(link(store.path(for: id), target) == 0)
        let fd = open(target, O_WRONLY | O_TRUNC)
        _ = "edited!!\n".withCString { write(fd, $0, 9) }
        close(fd)
        #expect(Seal.breach(of: stat(target), executable: false, size: nil) == .written)

        // A plan only looks.
        #expect(try store.condition(of: id, size: nil, repair: false) == .damaged)
        #expect(store.contains(id))
        // A sync moves it aside; the target's file keeps its inode (and the operator's bytes).
        #expect(try store.condition(of: id, size: nil, repair: true) == .damaged)
        #expect(!store.contains(id))
        #expect(try store.quarantinedIdentities().contains(FileIdentity(stat(target))))
        let notes = try FileManager.default.contentsOfDirectory(atPath: store.quarantineDirectory)
        #expect(notes.contains { $0.hasSuffix(".why") })
        #expect(throws: SmartSyncError.self) { try store.sealedPath(for: id, executable: false, size: nil) }
        // The good bytes can be published again under their name.
        #expect(try store.insert(Array("original\n".utf8)) == id)
        #expect(try store.condition(of: id, size: nil, repair: true) == .sealed)
    }

    @Test func aChmodThroughAHardLinkGetsTheStoreAFreshInodeAndLeavesTheOperatorsAlone() throws {
        defer { remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("secret\n".utf8))
        let target = root + "-target"
        defer { unlink(target) }
        #expect(link(store.path(for: id), target) == 0)
        #expect(chmod(target, 0o600) == 0)
        let before = FileIdentity(stat(target))
        #expect(try store.condition(of: id, size: nil, repair: true) == .verified)
        let after = stat(store.path(for: id))
        #expect(FileIdentity(after) != before)
        #expect(Seal.breach(of: after, executable: false, size: 7) == nil)
        #expect(stat(target).st_mode & 0o777 == 0o600, "the operator's file changed")
    }

    @Test func anUnsealedObjectOfAnEarlierReleaseIsVerifiedOnceAndSealedInPlace() throws {
        defer { remove() }
        let store = try ObjectStore(root: root)
        let id = try store.insert(Array("legacy\n".utf8))
        let path = store.path(for: id)
        // As release 0.1 published it: mode 0444, its write time as mtime.
        var now = [timespec(tv_sec: 1_700_000_000, tv_nsec: 5), timespec(tv_sec: 1_700_000_000, tv_nsec: 5)]
        #expect(utimensat(AT_FDCWD, path, &now, AT_SYMLINK_NOFOLLOW) == 0)
        let inode = FileIdentity(stat(path))
        #expect(try store.condition(of: id, size: nil, repair: false) == .verified)
        #expect(Seal.breach(of: stat(path), executable: false, size: nil) == .written, "a plan changed the store")
        #expect(try store.condition(of: id, size: nil, repair: true) == .verified)
        #expect(FileIdentity(stat(path)) == inode)
        #expect(try store.condition(of: id, size: nil, repair: true) == .sealed)
    }

    @Test func anOlderStoreOpenToOthersBecomesPrivate() throws {
        defer { remove() }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        #expect(chmod(root, 0o755) == 0)
        _ = try ObjectStore(root: root)
        #expect(stat(root).st_mode & 0o777 == 0o750)
    }
}
