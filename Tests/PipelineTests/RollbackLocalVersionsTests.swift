import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A rollback keeps the operator's versions it takes out of the target, as a sync keeps those it replaces: saved into
/// the store, recorded for `smart-sync restore`, a warning for each. With `--keep-generations 0` the outgoing tree is
/// gone once the rollback is done, so the record is all that is left of them.
@Suite("what a rollback keeps of the operator's", .serialized)
struct RollbackLocalVersionsTests {
    func rollback(
        _ t: StageRecyclerTests.Setup, to selector: String?, keep: Int = 0, _ warnings: Locked<[String]>
    )
        throws -> Rollback.Outcome
    {
        try Rollback.run(
            target: t.target, to: selector, state: t.runner.state, store: t.runner.store, keepGenerations: keep,
            linkMode: t.runner.linkMode,
            events: { event in
                if case .warning(let text) = event { warnings.withLock { $0.append(text) } }
            })
    }

    /// Writes `text` to `path` as an editor saves: a new file renamed over the old one (a new inode).
    func save(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path + ".swp"))
        #expect(rename(path + ".swp", path) == 0)
    }

    /// The version `restore` would bring back for `path`: its content, from the store.
    func kept(_ t: StageRecyclerTests.Setup, _ path: String) throws -> String? {
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        guard let version = try log.versions(of: TreePath(path)).first else { return nil }
        return String(decoding: try t.runner.store.read(version.id), as: UTF8.self)
    }

    /// An edit of a synced file (saved by rename) and a file the operator made since at a path of the generation's
    /// tree: both are kept and recorded, the generation's files are in place.
    @Test func anEditAndAFileMadeAtAGenerationPathAreKept() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        try await t.sync(1)  // B: gone/only.nix deleted
        try save(t.target + "/d0/f0.nix", "{ edited = true; }\n")
        try save(t.target + "/gone/only.nix", "{ mine = true; }\n")
        let warnings = Locked<[String]>([])
        let outcome = try rollback(t, to: t.commits[0], warnings)
        try t.expectTarget(0)
        #expect(try kept(t, "d0/f0.nix") == "{ edited = true; }\n", "the operator's edit is lost")
        #expect(try kept(t, "gone/only.nix") == "{ mine = true; }\n", "the operator's file is lost")
        #expect(Set(outcome.kept.map(\.path.description)) == ["d0/f0.nix", "gone/only.nix"])
        let lines = warnings.withLock { $0 }
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains("smart-sync restore") }, "\(lines)")
        let versions = try Restore.versions(
            of: "d0/f0.nix", target: t.target, state: t.runner.state, store: t.runner.store)
        #expect(versions.first.map { if case .kept = $0.origin { true } else { false } } == true, "restore --list")
    }

    /// Files as the current sync put them are not kept (nothing of the operator's is lost), and an edit of a path the
    /// generation does not have (the rollback removes it) is.
    @Test func onlyWhatIsNotTheSyncsIsKept() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        try await t.sync(1)  // B adds fresh/new.nix
        try save(t.target + "/fresh/new.nix", "{ fresh = false; }\n")
        let warnings = Locked<[String]>([])
        let outcome = try rollback(t, to: t.commits[0], warnings)
        try t.expectTarget(0)
        #expect(outcome.kept.map(\.path.description) == ["fresh/new.nix"])
        #expect(try kept(t, "fresh/new.nix") == "{ fresh = false; }\n")
    }

    /// A rollback to the tree found before the first sync forgets the target's state: what the operator makes
    /// afterwards is theirs, carried into the next rollback's tree, or kept where that tree has the path.
    @Test func aTargetWithNoStateIsAllTheOperators() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try save(t.target + "/before.txt", "found\n")
        try await t.sync(0)
        let found = try #require(try Rollback.generations(target: t.target).first { $0.state == nil })
        let warnings = Locked<[String]>([])
        _ = try rollback(t, to: String(found.sequence), keep: 3, warnings)
        #expect(try t.runner.state.load(target: t.target) == nil)
        try save(t.target + "/new.txt", "made after the rollback\n")
        try save(t.target + "/d1/f1.nix", "{ mine = 1; }\n")
        _ = try rollback(t, to: t.commits[0], warnings)
        #expect(try String(contentsOfFile: t.target + "/new.txt", encoding: .utf8) == "made after the rollback\n")
        try t.expectTarget(0, ignoring: ["new.txt", "before.txt"])
        #expect(try kept(t, "d1/f1.nix") == "{ mine = 1; }\n")
    }

    /// Appends to `t`'s history: D (C with `conf/main`), E (`conf` a file), F (`conf` a symlink); their indices.
    private func retypedConf(_ t: StageRecyclerTests.Setup) throws -> (directory: Int, file: Int, symlink: Int) {
        try t.repo.write("conf/main", "main = 1\n")
        t.commits.append(try t.repo.commit("D"))
        try t.repo.remove("conf")
        try t.repo.write("conf", "a file now\n")
        t.commits.append(try t.repo.commit("E"))
        try t.repo.symlink("conf", to: "d0")
        t.commits.append(try t.repo.commit("F"))
        return (3, 4, 5)
    }

    /// A path that is a file or a symlink today and a directory in the generation: the rollback brings the directory
    /// back (it used to fail looking below the file: "Not a directory", or "a symlink where a directory is expected").
    @Test(arguments: [false, true])
    func aFileOrSymlinkWhereTheGenerationHasADirectory(_ symlink: Bool) async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let c = try retypedConf(t)
        try await t.sync(c.directory)
        try await t.sync(symlink ? c.symlink : c.file)
        let warnings = Locked<[String]>([])
        let outcome = try rollback(t, to: t.commits[c.directory], warnings)
        try t.expectTarget(c.directory)
        #expect(outcome.kept.isEmpty && warnings.withLock { $0 }.isEmpty, "nothing of the operator's was replaced")
    }

    /// A directory where the generation has a file (or a symlink) goes with the outgoing tree and the carrier does not
    /// enter it: the operator's files inside it (at any depth) are kept and recorded, not dropped in silence.
    @Test(arguments: [false, true])
    func theOperatorsFilesInADirectoryWhereTheGenerationHasAFileAreKept(_ symlink: Bool) async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let c = try retypedConf(t)
        t.runner.keepGenerations = 3
        try await t.sync(symlink ? c.symlink : c.file)
        try await t.sync(2)  // C: no conf (a sync straight from a file conf to conf/main is another matter)
        try await t.sync(c.directory)
        try save(t.target + "/conf/local.conf", "mine = 1\n")
        try save(t.target + "/conf/deep/more.conf", "mine = 2\n")
        let warnings = Locked<[String]>([])
        let outcome = try rollback(t, to: t.commits[symlink ? c.symlink : c.file], warnings)
        try t.expectTarget(symlink ? c.symlink : c.file)
        #expect(try kept(t, "conf/local.conf") == "mine = 1\n", "the operator's file is lost")
        #expect(try kept(t, "conf/deep/more.conf") == "mine = 2\n", "the operator's file is lost")
        #expect(Set(outcome.kept.map(\.path.description)) == ["conf/local.conf", "conf/deep/more.conf"])
        let said = warnings.withLock { $0 }
        #expect(said.count == 1 && said[0].contains("'conf' was a directory") && said[0].contains("2 files"), "\(said)")
    }

    /// A rollback that fails before the exchange leaves no record of versions replaced by a switch that never happened
    /// (and no warning); the operator's edit is still in the target.
    @Test func aRollbackThatFailsBeforeTheExchangeRecordsNothing() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        try await t.sync(1)
        try save(t.target + "/d0/f0.nix", "{ edited = true; }\n")
        let warnings = Locked<[String]>([])
        struct Killed: Error {}
        #expect(throws: Killed.self) {
            try Rollback.run(
                target: t.target, to: t.commits[0], state: t.runner.state, store: t.runner.store, keepGenerations: 0,
                linkMode: t.runner.linkMode,
                events: { event in
                    if case .warning(let text) = event { warnings.withLock { $0.append(text) } }
                },
                checkpoint: { if $0 == "before-exchange" { throw Killed() } })
        }
        #expect(try kept(t, "d0/f0.nix") == nil, "a record of a rollback that did not happen")
        #expect(warnings.withLock { $0 }.isEmpty)
        #expect(TestFiles.read(t.target + "/d0/f0.nix") == "{ edited = true; }\n")
    }
}
