import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The reserve spare trees a cold sync leaves (``GenerationStore/reserve(_:)``): used on the recycler's usual terms,
/// never left where no switch can use or prune them, and an `EMLINK` while making them costs only the reserves.
extension StageRecyclerTests {
    func generationNames(_ t: Setup) throws -> [String] {
        let generations = ((t.spare as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        return try FileManager.default.contentsOfDirectory(atPath: generations).sorted()
    }

    /// A reserve shares its inodes with the cold tree, as the spare does, and is used later: at the second update,
    /// a file of the target edited in place since (its seal kept) is written in the reserve too, and must not be kept.
    @Test(arguments: [LinkMode.hardlink, .copy])
    func aFileEditedInPlaceIsNotKeptFromAReserve(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        t.runner.keepGenerations = 3
        try await t.sync(0)
        #expect(try await t.sync(1).applied?.recycled == true)
        // The spare now is the cold sync's first reserve.
        try await editInPlaceAndUpdate(t, to: 2)
    }

    /// Writes `d3/f3.nix` of the target (the same in A, B and C) in place, keeping its seal; checks the spare shares
    /// its inode (the edit is in it), then that the update to commit `i` recycles the spare and does not keep the edit.
    func editInPlaceAndUpdate(_ t: Setup, to i: Int, _ location: SourceLocation = #_sourceLocation) async throws {
        let file = t.target + "/d3/f3.nix"
        Self.writeKeepingTheSeal(file, "{ b = 3; }\n")
        #expect(
            try String(contentsOfFile: t.spare + "/d3/f3.nix", encoding: .utf8) == "{ b = 3; }\n",
            sourceLocation: location)
        let outcome = try await t.sync(i)
        #expect(outcome.applied?.recycled == true, "the update did not recycle the spare", sourceLocation: location)
        try t.expectTarget(i, location)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "{ a = 3; }\n", sourceLocation: location)
    }

    /// Where the file system refuses `renameat2(RENAME_EXCHANGE)`, every update applies in place (the staged tree is
    /// dropped before it is switched), so no spare can ever be used; the reserves a cold sync (a rename, which works
    /// there) left stayed forever, holding the cold tree's inodes. The refusal is made by the switch's checkpoint
    /// before its exchange (no file system here refuses it while allowing hard links).
    @Test func theInPlacePathLeavesNoReserve() async throws {
        let t = try await Setup(mode: .hardlink)
        t.runner.keepGenerations = 3
        try await t.sync(0)
        #expect(try generationNames(t) == ["spare", "spare-1", "spare-2", "spare-3"])
        t.runner.checkpoint = { name in
            if name == "before-exchange" { throw TreeSwitch.ExchangeUnsupported(errno: EINVAL) }
        }
        try await t.sync(1)
        try t.expectTarget(1)
        let left = try generationNames(t).filter { $0.hasPrefix("spare") }
        #expect(left == [], "spare trees no switch can use: \(left)")
        // With no spare left, a tree whose removal a killed run left (`.removing-`) still goes at the next in-place
        // update: no prune runs there (found in review: the drop returned early when it had no spare to drop).
        let generations = ((t.spare as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: generations + "/.removing-spare-making-0123/tree/d", withIntermediateDirectories: true)
        try await t.sync(2)
        try t.expectTarget(2)
        #expect(try generationNames(t).filter { $0.hasPrefix(".removing-") } == [])
    }

    /// One inode near the file system's link limit (`EMLINK`: ext4's 65,000; say, an object many targets share): the
    /// cold sync's spare is still left, and only the reserves the limit refused are dropped. Before, the whole spare
    /// went with them, and the first update built its stage from the store.
    @Test func tooManyLinksCostOnlyTheReserves() async throws {
        // Skipped only where mounting cannot work (not root); as root (CI) a failed mount is a failure.
        guard let fs = try LoopFileSystem.forTest(.ext4, megabytes: 64) else { return }
        let t = try await Setup(mode: .hardlink, under: fs.mountPoint)
        t.runner.keepGenerations = 3
        let object = t.runner.store.path(
            for: try #require(ObjectID(hex: try t.repo.revParse("\(t.commits[0]):d2/f2.nix"))))
        let extra = fs.appending("links")
        // Once the stage stands (its file linked to the object): links up to two short of the limit, so the spare and
        // the first reserve get theirs and the second reserve meets EMLINK.
        t.runner.checkpoint = { name in
            guard name == "staged" else { return }
            var st = stat()
            guard stat(object, &st) == 0, mkdir(extra, 0o755) == 0 else { return }
            for n in Int(st.st_nlink)..<(65_000 - 2) {
                let dir = extra + "/\(n / 1000)"
                if n % 1000 == 0 || n == Int(st.st_nlink) { mkdir(dir, 0o755) }
                link(object, dir + "/\(n)")
            }
        }
        try await t.sync(0)
        t.runner.checkpoint = { _ in }
        #expect(try generationNames(t) == ["spare", "spare-1"], "the spare and the reserve that fit")
        #expect(inode(t.spare + "/d2/f2.nix") == inode(t.target + "/d2/f2.nix"))
        try FileManager.default.removeItem(atPath: extra)

        let outcome = try await t.sync(1)
        #expect(outcome.applied?.recycled == true, "the first update built its stage from the store")
        try t.expectTarget(1)
    }
}
