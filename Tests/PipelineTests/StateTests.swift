import SmartSyncCore
import SmartSyncGitObjects
@testable import SmartSyncPipeline
import TestSupport
import Testing

@Suite struct StateTests {
    @Test func targetStateRoundTrip() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let states = try StateStore(root: dir["state"])
        #expect(try states.load(target: "/srv/cfg") == nil)
        var manifest = Manifest()
        for i in 0..<1000 {
            manifest[TreePath("dir/file\(i)")] = Manifest.Entry(
                mode: i % 3 == 0 ? .executable : .regular, id: blob("\(i)"))
        }
        manifest["link"] = Manifest.Entry(mode: .symlink, id: blob("dir"))
        let state = TargetState(
            target: "/srv/cfg/", commit: blob("c"), ref: "main", appliedAtNs: 1_700_000_000_000_000_000,
            manifest: manifest)
        try states.save(state)
        let loaded = try states.load(target: "/srv/./other/../cfg")
        #expect(loaded?.manifest == manifest)
        #expect(loaded?.commit == blob("c"))
        #expect(loaded?.ref == "main")
        #expect(loaded?.target == "/srv/cfg")
        #expect(loaded?.appliedAtNs == 1_700_000_000_000_000_000)
        #expect(StateStore.key(for: "/srv/cfg").count == 40)

        var cache = StatCache()
        cache.entries["a"] = StatCache.Entry(
            stat: StatData(device: 1, inode: 2, size: 3, mtimeNs: 4, ctimeNs: 5, mode: 6), id: blob("a"))
        try states.saveStatCache(&cache, target: "/srv/cfg")
        #expect(try states.loadStatCache(target: "/srv/cfg").entries == cache.entries)
    }

    @Test func auxiliarySlots() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let states = try StateStore(root: dir["state"])
        #expect(try states.loadAuxiliary(name: "source-cache") == nil)
        try states.saveAuxiliary(name: "source-cache", bytes: Array("{\"etag\":\"x\"}".utf8))
        #expect(try states.loadAuxiliary(name: "source-cache") == Array("{\"etag\":\"x\"}".utf8))
        #expect(throws: SmartSyncError.self) { try states.saveAuxiliary(name: "../escape", bytes: []) }
    }

    @Test func lockContention() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let states = try StateStore(root: dir["state"])
        let held = try states.lock(target: "/srv/cfg")
        #expect {
            _ = try states.lock(target: "/srv/cfg")
        } throws: { error in
            guard let e = error as? SmartSyncError else { return false }
            return e.code == .locked && e.message.contains("/srv/cfg") && e.message.contains("process")
        }
        _ = try states.lock(target: "/srv/other")  // other targets are independent
        held.release()
        _ = try states.lock(target: "/srv/cfg")
    }
}
