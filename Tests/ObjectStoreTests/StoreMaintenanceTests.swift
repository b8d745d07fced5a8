import Foundation
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

/// The store's maintenance primitives: the sweep, fsck, the quarantine, and waiting for the store lock.
@Suite("ObjectStore maintenance")
struct StoreMaintenanceTests {
    let dir: TemporaryDirectory
    let store: ObjectStore

    init() throws {
        dir = try TemporaryDirectory(prefix: "store-maint")
        store = try ObjectStore(root: dir.appending("store"))
    }

    /// Two hours from now: every object is past a one-hour grace period, with no waiting.
    private var later: Int64 { Timestamps.nowNs() + 7200 * 1_000_000_000 }
    private let hour: Int64 = 3600 * 1_000_000_000

    private func blob(_ text: String) throws -> ObjectID { try store.insert(Array(text.utf8)) }

    /// Overwrites the first byte of a store object in place, as a write through a target's hardlink would.
    private func flipFirstByte(_ path: String) throws {
        chmod(path, 0o644)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let first = try #require(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: 0)
        handle.write(Data([first ^ 0x20]))
        try handle.close()
        chmod(path, 0o444)
    }

    @Test func sweepRemovesWhatIsNotKeptAndKeepsRootsYoungAndLinkedObjects() throws {
        let rooted = try blob("rooted\n")
        let garbage = try blob("garbage\n")
        let linked = try blob("linked from a target\n")
        let twinned = try blob("#!/bin/sh\necho garbage with a twin\n")
        let rootedTwin = try blob("#!/bin/sh\necho rooted\n")
        _ = try store.executablePath(for: twinned)
        _ = try store.executablePath(for: rootedTwin)
        #expect(link(store.path(for: linked), dir.appending("target-file")) == 0)

        // Within the grace period, nothing goes.
        let fresh = try store.sweep(keeping: [rooted], graceNs: hour, dryRun: false)
        #expect(fresh.removed == 0 && fresh.keptYoung == 6 && fresh.keptMarked == 1, "\(fresh)")

        // A dry run two hours later lists what would go and removes nothing.
        var listed: [SweptObject] = []
        let dry = try store.sweep(keeping: [rooted, rootedTwin], graceNs: hour, nowNs: later, dryRun: true) {
            listed.append($0)
        }
        #expect(Set(listed.map(\.id)) == [garbage, twinned])
        #expect(listed.filter(\.isTwin).map(\.id) == [twinned])
        #expect(dry.removed == 3 && dry.keptLinked == 1 && dry.keptMarked == 3, "\(dry)")
        #expect(FileManager.default.fileExists(atPath: store.path(for: garbage)))

        let real = try store.sweep(keeping: [rooted, rootedTwin], graceNs: hour, nowNs: later, dryRun: false)
        #expect(real.removed == 3 && real.removedBytes == dry.removedBytes && real.freedBytes > 0)
        // What is kept and only the store links is the store's own disk usage (the linked object is not).
        #expect(real.keptOwnBytes > 0 && real.keptOwnBytes == store.ownDiskUsage())
        for gone in [garbage, twinned] { #expect(!FileManager.default.fileExists(atPath: store.path(for: gone))) }
        #expect(!FileManager.default.fileExists(atPath: store.path(for: twinned) + ".x"))
        for kept in [rooted, linked, rootedTwin] { #expect(store.contains(kept)) }
        #expect(FileManager.default.fileExists(atPath: store.path(for: rootedTwin) + ".x"))
    }

    @Test func fsckFindsDamageAndBrokenSealsAndMendQuarantinesOrSealsAgain() throws {
        var ids: [ObjectID] = []
        for i in 0..<60 { ids.append(try blob("object \(i)\n" + String(repeating: "x", count: i * 37))) }
        let big = try store.insert((0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let tree = try store.insert(
            TreeObject.encode([.init(name: Array("a".utf8), mode: .regular, id: ids[0])]), kind: .tree)
        let commit = try store.insert(Array("tree \(tree.hex)\n\nmessage\n".utf8), kind: .commit)
        let clean = store.fsck(threads: 2)
        #expect(clean.findings.isEmpty, "\(clean.findings.map(\.summary))")
        #expect(clean.checked == 63 && clean.kinds[.blob] == 61 && clean.kinds[.tree] == 1 && clean.kinds[.commit] == 1)

        try flipFirstByte(store.path(for: ids[7]))
        try flipFirstByte(store.path(for: big))
        try flipFirstByte(store.path(for: commit))
        chmod(store.path(for: ids[8]), 0o644)  // a chmod through a target's hard link
        let touched = store.path(for: ids[10])
        #expect(utimensat(AT_FDCWD, touched, nil, 0) == 0)  // a touch: the time moves, the content stays
        let twin = try store.executablePath(for: ids[9])
        try flipFirstByte(twin)
        chmod(twin, 0o555)
        let report = store.fsck(threads: 2)
        let found = Set(report.findings.map { "\($0.id.hex)\($0.isTwin ? ".x" : "") \($0.problem.name)" })
        #expect(
            found == [
                "\(ids[7].hex) content", "\(big.hex) content", "\(commit.hex) content", "\(ids[8].hex) seal",
                "\(ids[10].hex) seal", "\(ids[9].hex).x content",
            ], "\(found)")

        let inode = { (path: String) -> UInt64 in
            var st = stat()
            return lstat(path, &st) == 0 ? UInt64(st.st_ino) : 0
        }
        let (chmodded, touchedInode) = (inode(store.path(for: ids[8])), inode(touched))
        for finding in report.findings { #expect(try store.mend(finding) != nil, "\(finding.summary)") }
        #expect(store.fsck(threads: 2).findings.isEmpty)
        // Damaged content is gone to the quarantine; intact content stays, sealed again.
        for gone in [ids[7], big, commit] { #expect(!FileSystem.exists(store.path(for: gone))) }
        #expect(FileSystem.exists(store.path(for: ids[9])) && !FileSystem.exists(twin))
        #expect(Set(store.quarantinedObjects().map(\.id)) == [ids[7], big, commit, ids[9]])
        #expect(inode(touched) == touchedInode, "a touched object is sealed in place")
        #expect(inode(store.path(for: ids[8])) != chmodded, "a chmodded object is replaced by a sealed copy")
    }

    @Test func quarantineMovesObjectAndTwinWithARecordAndAnIntactCopyComesBack() throws {
        let id = try blob("#!/bin/sh\necho quarantined\n")
        let twin = try store.executablePath(for: id)
        #expect(link(store.path(for: id), dir.appending("target-file")) == 0)
        let moved = try #require(try store.quarantine(id, reason: "fsck: mode 644"))
        #expect(moved.hasPrefix(store.quarantineDirectory + "/" + id.hex + "."))
        #expect(!FileManager.default.fileExists(atPath: store.path(for: id)))
        #expect(!FileManager.default.fileExists(atPath: twin))
        #expect(FileManager.default.fileExists(atPath: moved + ".x"))
        // The target's link still holds the inode.
        #expect(
            try String(contentsOfFile: dir.appending("target-file"), encoding: .utf8) == "#!/bin/sh\necho quarantined\n"
        )
        let listed = store.quarantinedObjects()
        #expect(listed.map(\.id) == [id] && listed.first?.reason == "fsck: mode 644" && listed.first?.path == moved)
        #expect(try store.quarantine(id, reason: "again") == nil)

        // Its content is intact: it can come back, as a fresh read-only object.
        #expect(try store.restoreFromQuarantine(try #require(listed.first)))
        #expect(store.contains(id))
        let attrs = try FileManager.default.attributesOfItem(atPath: store.path(for: id))
        #expect(attrs[.posixPermissions] as? Int == 0o444 && attrs[.referenceCount] as? Int == 1)

        // A damaged one cannot.
        let other = try blob("will be damaged\n")
        try flipFirstByte(store.path(for: other))
        _ = try store.quarantine(other, reason: "fsck: content")
        let damaged = try #require(store.quarantinedObjects().first { $0.id == other })
        #expect(try !store.restoreFromQuarantine(damaged))
        #expect(!store.contains(other))
    }

    @Test func aLockWaiterGetsTheLockWhenTheHolderLetsGoAndGivesUpAtItsDeadline() async throws {
        let held = try store.lock()
        await #expect(throws: SmartSyncError.self) {
            _ = try await store.lock(shared: true, waitingUpTo: .milliseconds(50))
        }
        let told = Locked(0)
        let waiter = Task { [store] in
            try await store.lock(shared: true, waitingUpTo: .seconds(60)) { _ in told.withLock { $0 += 1 } }
        }
        // Let the waiter find the lock taken before it is released (a wait is announced once, whenever it starts).
        while told.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        held.release()
        let lock = try await waiter.value
        #expect(told.withLock { $0 } == 1)
        lock.release()
    }
}
