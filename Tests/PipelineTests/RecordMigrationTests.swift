import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The switch journal and the pending-rebuild mark as smart-sync 0.1.0 wrote them (`key=value` text) are still
/// read: a journal left by a killed run of that release is finished or undone by the next run, and a mark is
/// rewritten as JSON.
@Suite(.serialized) struct RecordMigrationTests {
    private struct Stop: Error {}

    static let syncJournal = SwitchJournal(
        sequence: 7, incoming: "/srv/.config.smart-sync/stage", incomingInode: 1_234_567, consumed: nil)
    static let rollbackJournal = SwitchJournal(
        sequence: 8, incoming: "/srv/.config.smart-sync/generations/5/tree", incomingInode: 42, consumed: 5)

    @Test func theOldJournalsDecodeToTheSameRecords() throws {
        for (name, expected) in [
            ("switch-journal-sync", Self.syncJournal), ("switch-journal-rollback", Self.rollbackJournal),
        ] {
            let path = RecordFixtures.directory + "/" + name
            #expect(try SwitchJournal.load(from: path, layout: SwitchLayout(target: "/srv")) == expected)
        }
    }

    /// The fixture's journal with this run's generation, stage path and inode in place of the fixture's.
    private func oldJournal(like journal: SwitchJournal) throws -> String {
        String(decoding: try RecordFixtures.bytes("switch-journal-sync"), as: UTF8.self)
            .replacingOccurrences(of: "sequence=7", with: "sequence=\(journal.sequence)")
            .replacingOccurrences(of: Self.syncJournal.incoming, with: journal.incoming)
            .replacingOccurrences(of: "=1234567", with: "=\(journal.incomingInode)")
    }

    /// Commits a and b of one repository (kept alive with the rest), a runner on it, and a target synced to a.
    private func syncedToA() async throws -> (TemporaryDirectory, SyncRunner, [String], SwitchLayout, GitFixture) {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        let repo = try GitFixture()
        var commits: [String] = []
        for v in ["a", "b"] {
            try repo.write("conf.nix", "\(v)\n")
            commits.append(try repo.commit(v))
        }
        let runner = SyncRunner(
            source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: dir["store"]),
            state: try StateStore(root: dir["state"]))
        let layout = SwitchLayout(target: dir["target"])
        _ = try await runner.sync(.init(ref: commits[0], target: layout.target))
        return (dir, runner, commits, layout, repo)
    }

    @Test func anOldJournalWhoseExchangeHappenedIsFinished() async throws {
        var (dir, runner, commits, layout, repo) = try await syncedToA()
        defer { withExtendedLifetime(repo) { dir.remove() } }
        // A run to b stopped right after its exchange, before it recorded anything; its journal as 0.1.0 wrote it.
        runner.checkpoint = { if $0 == "after-exchange" { throw Stop() } }
        await #expect(throws: (any Error).self) {
            _ = try await runner.sync(.init(ref: commits[1], target: layout.target))
        }
        runner.checkpoint = { _ in }
        let journal = try #require(try SwitchJournal.load(layout: layout))
        #expect(RecordFixtures.fileIsJSONRecord(layout.journal, format: SwitchJournal.format))
        try TestFiles.write(layout.journal, try oldJournal(like: journal))
        #expect(try SwitchJournal.load(layout: layout) == journal)
        #expect(TestFiles.read(layout.target + "/conf.nix") == "b\n")
        #expect(try runner.state.load(target: layout.target)?.commit.hex == commits[0])

        let again = try await runner.sync(.init(ref: commits[1], target: layout.target))
        #expect(!again.switched, "recovery recorded b's tree: nothing to switch")
        #expect(try runner.state.load(target: layout.target)?.commit.hex == commits[1])
        #expect(TestFiles.lstat(layout.journal) == nil)
        #expect(TestFiles.read(layout.generation(1) + "/tree/conf.nix") == "a\n")
    }

    @Test func anOldJournalWhoseExchangeDidNotHappenIsUndone() async throws {
        let (dir, runner, commits, layout, repo) = try await syncedToA()
        defer { withExtendedLifetime(repo) { dir.remove() } }
        // A run of 0.1.0 killed before its exchange: a stage, a half-made generation 5, its journal.
        try TestFiles.write(layout.stage + "/conf.nix", "b\n")
        try TestFiles.makeDirectories(layout.generation(5))
        let inode = try #require(TestFiles.lstat(layout.stage)).st_ino
        let journal = SwitchJournal(sequence: 5, incoming: layout.stage, incomingInode: UInt64(inode), consumed: nil)
        try TestFiles.write(layout.journal, try oldJournal(like: journal))

        let again = try await runner.sync(.init(ref: commits[1], target: layout.target))
        #expect(again.switched)
        #expect(TestFiles.read(layout.target + "/conf.nix") == "b\n")
        #expect(try runner.state.load(target: layout.target)?.commit.hex == commits[1])
        #expect(TestFiles.lstat(layout.journal) == nil)
        #expect(TestFiles.lstat(layout.generation(5)) == nil, "the half-made generation is removed")
        #expect(try Rollback.generations(target: layout.target).map { $0.state?.commit.hex } == [commits[0]])
    }

    /// A journal written unsynced before the stage's sync and emptied by a power cut (or, on ext4 `data=writeback`
    /// or `nodelalloc`, left its size in NULs): its exchange, after that sync, cannot have happened. Recovery removes
    /// it (and the stage) rather than stop every later run on it.
    @Test(arguments: [0, 187, 4096])
    func anEmptyOrNULJournalIsAnExchangeThatDidNotHappen(nuls: Int) async throws {
        let (dir, runner, commits, layout, repo) = try await syncedToA()
        defer { withExtendedLifetime(repo) { dir.remove() } }
        try TestFiles.write(layout.stage + "/conf.nix", "b\n")
        try TestFiles.makeDirectories(layout.generation(5))
        try TestFiles.write(layout.journal, String(repeating: "\u{0}", count: nuls))
        try TreeSwitch(layout: layout).recover()
        #expect(TestFiles.lstat(layout.journal) == nil)
        #expect(TestFiles.lstat(layout.stage) == nil)
        #expect(TestFiles.read(layout.target + "/conf.nix") == "a\n")
        let again = try await runner.sync(.init(ref: commits[1], target: layout.target))
        #expect(again.switched)
        #expect(TestFiles.read(layout.target + "/conf.nix") == "b\n")
        #expect(TestFiles.lstat(layout.generation(5)) == nil, "the half-made generation is left to the prune")
    }

    /// A journal longer than a block (a long target path) is fsynced as it is written: left to the stage's sync, a
    /// power cut could keep its first block only, which no recovery can read. A short one is left to that sync.
    @Test func aJournalLongerThanABlockIsWrittenDurably() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let long = (0..<16).reduce(dir.path) { path, i in path + "/" + String(repeating: "d", count: 200) + "\(i)" }
        for (target, durable) in [(dir["target"], false), (long + "/target", true)] {
            let layout = SwitchLayout(target: target)
            try TestFiles.makeDirectories(target)
            try TestFiles.makeDirectories(layout.stage)
            let prepared = try TreeSwitch(layout: layout).prepare(
                incoming: layout.stage, sequence: 1, outgoingState: nil, consumed: nil, durable: false)
            #expect(prepared.journalDurable == durable)
            #expect(try SwitchJournal.load(layout: layout) == prepared.journal)
            #expect((TestFiles.readBytes(layout.journal)?.count ?? 0 > TreeSwitch.unsyncedJournalLimit) == durable)
            try TreeSwitch(layout: layout).recover()
            #expect(TestFiles.lstat(layout.journal) == nil)
        }
        // A short journal carrying pending kept-version records is written durably too, though not asked to be.
        let layout = SwitchLayout(target: dir["pending"])
        try TestFiles.makeDirectories(layout.stage)
        let version = KeptVersion(
            timeNs: 1, mode: .regular, id: try #require(ObjectID(hex: String(repeating: "ab", count: 20))),
            replacedBy: nil, path: "f.nix")
        let prepared = try TreeSwitch(layout: layout).prepare(
            incoming: layout.stage, sequence: 1, outgoingState: nil, consumed: nil, pending: [version], durable: false)
        #expect(prepared.journalDurable)
        #expect(try SwitchJournal.load(layout: layout)?.pending == [version])
    }

    @Test func aDamagedOrNewerJournalStopsRecoveryNamingIt() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let layout = SwitchLayout(target: dir["target"])
        try TestFiles.makeDirectories(layout.sidecar)
        for text in ["sequence=x\n", "{\"format\":\"smart-sync-switch-journal\",\"version\":2,\"sequence\":1}\n"] {
            try TestFiles.write(layout.journal, text)
            let error = #expect(throws: SmartSyncError.self) { try TreeSwitch(layout: layout).recover() }
            #expect(error?.message.contains(layout.journal) == true, "\(error?.message ?? "")")
            // The hint says how to tell whether the exchange happened (removing the journal is right only if not),
            // as gc's does: it used to say "remove the journal" whatever.
            #expect(error?.hint?.contains("stat -c %i \(layout.target)") == true, "\(error?.hint ?? "")")
            #expect(error?.hint?.contains("newer smart-sync") == true)
            // The tree the exchange took out is moved aside, never deleted: for a rollback it is the newest tree, with
            // the operator's edited files whose kept versions only the damaged journal records. Both candidate paths
            // are named from the layout; for a rollback, how to undo it (sync) or finish it (sync --ref).
            let hint = error?.hint ?? ""
            #expect(!hint.contains("remove the journal and that path"), "\(hint)")
            #expect(hint.contains("Move that path out of the sidecar"), "\(hint)")
            #expect(hint.contains("mv \(layout.stage) "), "\(hint)")
            #expect(hint.contains(layout.generations + "/<N>/tree"), "\(hint)")
            #expect(hint.contains("undoes it"), "\(hint)")
            #expect(hint.contains("sync --ref COMMIT"), "\(hint)")
        }
    }

    @Test func theOldPendingRebuildMarksAreReadAndRewrittenAsJSON() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let state = try StateStore(root: dir["state"])
        let target = dir["target"]
        let expected = [
            "pending-rebuild": PendingRebuild(
                confirmed: ObjectID(hex: "0123456789abcdef0123456789abcdef01234567")!, generationBefore: 3,
                sinceNs: 1_733_500_000_123_456_789),
            "pending-rebuild-first": PendingRebuild(
                confirmed: nil, generationBefore: nil, sinceNs: 1_733_500_000_000_000_001),
        ]
        for (name, mark) in expected {
            let path = state.directory(for: target) + "/pending-rebuild"
            try TestFiles.makeDirectories(state.directory(for: target))
            unlink(path)
            try RecordFixtures.copy(name, to: path)
            #expect(try state.loadPendingRebuild(target: target) == mark, "\(name)")
            #expect(
                RecordFixtures.fileIsJSONRecord(path, format: PendingRebuild.format), "\(name)")
            #expect(try state.loadPendingRebuild(target: target) == mark, "\(name) as JSON")
        }
    }
}
