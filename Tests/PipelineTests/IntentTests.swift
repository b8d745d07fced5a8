import Foundation
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

@Suite("apply intent (interrupted in-place applies)")
struct IntentTests {
    /// A target synced to A (by an in-place apply when `inPlace`), then a run to B (which adds `only-in-b.txt`) that
    /// announced its intent, put that one new file in place (as an in-place apply installs it) and was killed; C
    /// removes it again and changes `keep.txt`.
    struct KilledRunToB {
        let repo: GitFixture
        let dirs: TemporaryDirectory
        let target: String
        var runner: SyncRunner
        let c: String

        /// `times` runs to C, each replacing the intent with its own and killed with its stage made, before the
        /// exchange; the runner then runs to the end again.
        mutating func killRunsToC(times: Int = 1) async {
            runner.checkpoint = { if $0 == "staged" { throw Stop() } }
            let (runner, target, c) = (runner, target, c)
            for _ in 0..<times {
                await #expect(throws: (any Error).self) { try await runner.sync(.init(ref: c, target: target)) }
            }
            self.runner.checkpoint = { _ in }
        }
    }

    /// `killedToC`: runs to C after it, each killed too (``KilledRunToB/killRunsToC(times:)``).
    static func killedRunToB(inPlace: Bool, killedToC: Int = 0) async throws -> KilledRunToB {
        let repo = try GitFixture()
        try repo.write("keep.txt", "keep\n")
        let a = try repo.commit("A")
        try repo.write("only-in-b.txt", "b\n")
        let b = try repo.commit("B")
        try repo.remove("only-in-b.txt")
        try repo.write("keep.txt", "keep, C\n")
        let c = try repo.commit("C")
        let dirs = try TemporaryDirectory(prefix: "intent")
        let target = dirs.appending("target")
        var runner = SyncRunner(
            source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: dirs.appending("store")),
            state: try StateStore(root: dirs.appending("state")))
        if inPlace { runner.applyMode = .inPlace }
        _ = try await runner.sync(.init(ref: a, target: target))

        try await saveIntent(runner, toCommit: b, of: repo, target: target)
        try Data("b\n".utf8).write(to: URL(fileURLWithPath: target + "/only-in-b.txt"))
        chmod(target + "/only-in-b.txt", 0o444)  // as an apply installs it
        var killed = KilledRunToB(repo: repo, dirs: dirs, target: target, runner: runner, c: c)
        if killedToC > 0 { await killed.killRunsToC(times: killedToC) }
        return killed
    }

    /// Saves the intent a run of `runner` to `commit` (of `repo`) with `excludes` announces before its apply.
    static func saveIntent(
        _ runner: SyncRunner, toCommit commit: String, of repo: GitFixture, target: String, excludes: [String] = []
    ) async throws {
        let listing = try await LocalGitSource(path: repo.path).listing(
            for: ResolvedRef(name: commit, commit: try #require(ObjectID(hex: commit))))
        var intent = TargetState(
            target: target, commit: listing.commit, ref: commit, appliedAtNs: 0, manifest: Manifest(listing: listing))
        intent.excludes = excludes
        try runner.state.saveIntent(intent)
    }

    @Test func filesAnInterruptedApplyPutThereAreStillOurs() async throws {
        // A run to B announced its intent, put one new file in place, and was killed.
        let killed = try await Self.killedRunToB(inPlace: true)
        let (target, runner, c) = (killed.target, killed.runner, killed.c)

        // The next run goes to C, which does not have that file: it is removed, not left behind as untracked.
        let outcome = try await runner.sync(.init(ref: c, target: target))
        #expect(outcome.plan.count(.delete) == 1)
        #expect(!FileManager.default.fileExists(atPath: target + "/only-in-b.txt"))
        #expect(try String(contentsOfFile: target + "/keep.txt", encoding: .utf8) == "keep, C\n")
        #expect(try runner.state.loadIntent(target: target) == nil)
    }

    /// A run that replaces a killed run's intent and is itself killed before its deletes are done: the killed run's
    /// file this run deletes stays ours (the new intent's pending deletes) and the next run removes it. Before, it was
    /// in neither intent's manifest nor the state, and stayed in the target as untracked for good.
    @Test func aReplacedIntentKeepsThePathsItsApplyDeletes() async throws {
        // A run to B announced its intent, put one new file in place (an in-place apply), and was killed.
        // A run to C replaces that intent with its own and is killed with its stage made, before the exchange.
        let killed = try await Self.killedRunToB(inPlace: false, killedToC: 1)
        let (target, c, runner) = (killed.target, killed.c, killed.runner)
        #expect(FileManager.default.fileExists(atPath: target + "/only-in-b.txt"))
        let replaced = try #require(try runner.state.loadIntent(target: target))
        #expect(replaced.commit.hex == c)
        #expect(replaced.pendingDeletes.entries.map(\.key) == ["only-in-b.txt"])

        // The next run removes it, and records a state that does not claim it.
        let outcome = try await runner.sync(.init(ref: c, target: target))
        #expect(outcome.plan.count(.delete) == 1)
        #expect(!FileManager.default.fileExists(atPath: target + "/only-in-b.txt"), "left behind as untracked")
        #expect(try String(contentsOfFile: target + "/keep.txt", encoding: .utf8) == "keep, C\n")
        #expect(try runner.state.loadIntent(target: target) == nil)
        let file = try #require(try FileSystem.readFileIfPresent(runner.state.directory(for: target) + "/state"))
        let recorded = try #require(TargetState(encoded: file.bytes))
        #expect(recorded.commit.hex == c && recorded.pendingDeletes.isEmpty)
        #expect(recorded.manifest[TreePath("only-in-b.txt")] == nil)
    }

    /// Run 3 killed too (before its exchange, as run 2): its intent carries run 2's pending deletes on, so the file
    /// the first killed run put there is still ours, and the run that finishes removes it.
    @Test func aSecondKillInARowCarriesThePendingDeletesOn() async throws {
        let killed = try await Self.killedRunToB(inPlace: false, killedToC: 2)
        let (target, c, runner) = (killed.target, killed.c, killed.runner)
        let replaced = try #require(try runner.state.loadIntent(target: target))
        #expect(replaced.pendingDeletes.entries.map(\.key) == ["only-in-b.txt"])
        _ = try await runner.sync(.init(ref: c, target: target))
        #expect(!FileManager.default.fileExists(atPath: target + "/only-in-b.txt"), "left behind as untracked")
        #expect(try runner.state.loadIntent(target: target) == nil)
    }

    /// A pending path the operator re-creates with other content before the next run: a local edit of a path that is
    /// ours, kept in place as a conflict (never deleted), and not claimed by the state the run records.
    @Test func aRecreatedPendingPathWithOtherContentIsKept() async throws {
        let killed = try await Self.killedRunToB(inPlace: false, killedToC: 1)
        let (target, c, runner) = (killed.target, killed.c, killed.runner)
        let path = target + "/only-in-b.txt"
        chmod(path, 0o644)
        try Data("the operator's own\n".utf8).write(to: URL(fileURLWithPath: path))

        let outcome = try await runner.sync(.init(ref: c, target: target))
        #expect(outcome.plan.count(.delete) == 0 && outcome.plan.kind("only-in-b.txt") == .conflict)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "the operator's own\n", "a local edit was lost")
        #expect(try String(contentsOfFile: target + "/keep.txt", encoding: .utf8) == "keep, C\n")
        #expect(try runner.state.loadIntent(target: target) == nil)
        let recorded = try #require(try runner.state.load(target: target))
        #expect(recorded.manifest[TreePath("only-in-b.txt")] == nil && recorded.pendingDeletes.isEmpty)
    }

    /// A state (and an intent) written by the previous release, before ``TargetState/pendingDeletes``: `sync
    /// --source` of a two-file commit by the release build of `2871200`, the file's bytes as they are.
    static let previousRelease = Array(
        Data(
            base64Encoded:
                "U1NTVAEAAAARAAAAL3RtcC9tN29sZC90YXJnZXQ+PJTTcrbhni93hex/r4LfE9FeFwYAAABtYXN0ZXK0wZxpeQ3vGAIA"
                + "AAAHAAAAZC94Lm5peKSBAABYe+a0w/k/k8SJwBEbulWWFHomywgAAABrZWVwLnR4dKSBAAAvqZLAuLXGrNK91Pox3inS"
                + "l5m91fDKxwiABdoZevHFZCSGTa/HZ6Y1")!)

    @Test func aStateAndAnIntentOfThePreviousReleaseReadAsBefore() throws {
        let dirs = try TemporaryDirectory(prefix: "intent-format")
        let state = try StateStore(root: dirs.appending("state"))
        let target = "/tmp/m7old/target"
        try FileSystem.makeDirectories(state.directory(for: target))
        for name in ["state", "intent"] {
            try Data(Self.previousRelease).write(to: URL(fileURLWithPath: state.directory(for: target) + "/" + name))
        }
        for read in [try state.load(target: target), try state.loadIntent(target: target)] {
            let read = try #require(read)
            #expect(read.commit.hex == "3e3c94d372b6e19e2f7785ec7faf82df13d15e17" && read.ref == "master")
            #expect(read.manifest.entries.map(\.key) == ["d/x.nix", "keep.txt"])
            #expect(read.keptLocal.isEmpty && read.pendingDeletes.isEmpty)
            // Without pending deletes (every state, and most intents) the format is the previous release's, so that
            // release reads what this one writes.
            #expect(read.encoded() == Self.previousRelease)
        }

        // With them, after the kept versions (written then even when there are none), and read back; a state never
        // holds them.
        var intent = try #require(try state.loadIntent(target: target))
        intent.pendingDeletes = Manifest(entries: [TreePath("gone.txt"): intent.manifest.entries[0].value])
        #expect(TargetState(encoded: intent.encoded()) == intent)
        // Byte for byte: the previous release's bytes (less its SHA-1 trailer), then the extra section (the kept
        // versions, empty, and the pending deletes), then the trailer over it all, so the documented downgrade holds.
        let encoded = intent.encoded()
        let body = Array(Self.previousRelease.dropLast(20))
        var extra = BinaryWriter(magic: TargetState.magic, version: TargetState.version)
        let header = extra.bytes.count
        Manifest().write(to: &extra)
        intent.pendingDeletes.write(to: &extra)
        let expected = body + extra.bytes.dropFirst(header)
        #expect(Array(encoded.dropLast(20)) == expected)
        let digest = SHA1Hasher()
        digest.update(expected)
        #expect(Array(encoded.suffix(20)) == digest.finalize().bytes)
        try state.saveIntent(intent)
        #expect(try state.loadIntent(target: target)?.pendingDeletes == intent.pendingDeletes)
        try state.save(intent)
        let file = try #require(try FileSystem.readFileIfPresent(state.directory(for: target) + "/state"))
        #expect(file.bytes == Self.previousRelease, "a state saved from an intent with pending deletes holds them")
        #expect(try state.load(target: target)?.pendingDeletes.isEmpty == true)
    }

    private struct Stop: Error {}
}
