import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
@testable import SmartSyncPipeline
import Testing

@Suite struct PinStoreTests {
    @Test func aPinKeepsItsListingAndMovesWhenPinnedAgainUnderItsName() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let pins = PinStore(store: try ObjectStore(root: dir["store"]))
        #expect(try pins.list().isEmpty)
        let file = TreeEntry(path: "modules/a.nix", mode: .regular, id: blob("a\n"), size: 2)
        let tree = TreeEntry(path: "modules", mode: .tree, id: blob("not really a tree"))
        let v1 = TreeListing(commit: blob("commit 1"), rootTree: blob("root 1"), entries: [tree, file])
        try pins.pin("release/v1", listing: v1, atNs: 42)
        try pins.pin("main", listing: v1)
        let v2 = TreeListing(commit: blob("commit 2"), rootTree: blob("root 2"), entries: [file])
        try pins.pin("main", listing: v2)
        let listed = try pins.list()
        #expect(listed.map(\.name) == ["main", "release/v1"])
        #expect(listed.map(\.commit) == [v2.commit, v1.commit])
        #expect(try pins.pin(named: "release/v1")?.listing == v1)
        #expect(try pins.pin(named: "release/v1")?.pinnedAtNs == 42)

        // A damaged pin file keeps nothing and breaks nothing.
        let mainFile = pins.directory + "/" + ObjectID.hash(.blob, Array("main".utf8)).hex
        try FileSystem.writeFileAtomically(mainFile, Array(try FileSystem.readFile(mainFile).dropLast()))
        #expect(try pins.list().map(\.name) == ["release/v1"])
        #expect(try pins.remove("release/v1") && !(try pins.remove("release/v1")))
        #expect(throws: SmartSyncError.self) { try pins.pin("two\nlines", listing: v1) }
    }
}
