import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// `--transport pack`'s `commitObject` asks for the commit alone (`deepen 1`, `filter tree:0`) for the commit's
/// checks: its pack is held unpublished (`held-pack-`, removed unread after a kill) and the commit checked against its
/// id before it is kept, in the run's memory; it reaches the store only with the listing's pack. It used to be
/// imported into the store (and a killed run's spool salvaged into it) before any check.
@Suite(.serialized)
struct CommitAlonePackTests {
    @Test func theCommitAloneIsCheckedAndKeptOutOfTheStore() async throws {
        let s = try ListingAheadTests.Setup()
        defer { s.engine.shutdown() }
        let (a, b, blob) = try await s.update()
        let before = try s.fetches()
        let body = try await s.source.commitObject(b.commit)
        #expect(ObjectID.hash(.commit, body) == b.commit)
        #expect(CommitObject.parse(body)?.parents == [a.commit])
        #expect(try s.fetches() == before + 1, "the commit alone: one fetch")
        #expect(!s.store.contains(b.commit), "the commit reached the store before its checks")
        #expect(s.temporaries().isEmpty, "the held pack outlived the question: \(s.temporaries())")
        // Kept in the run's memory: asked again, no request.
        #expect(try await s.source.commitObject(b.commit) == body)
        #expect(try s.fetches() == before + 1)
        // The listing's pack brings the commit (and its blob) into the store.
        let listing = try await s.source.listing(for: b, hints: ListingHints(haves: [a.commit]))
        #expect(listing.commit == b.commit)
        #expect(s.store.contains(b.commit) && s.store.contains(blob))
    }

    /// A commit another sync on the same store stored while this run's batch received it: the batch drops its own
    /// copy (the store has it), so the commit is read from the store. The check asked whether the batch held it
    /// (`isPending`), found it did not and blamed the server (`.malformedResponse`, "did not contain the commit").
    @Test func aCommitAnotherSyncStoredMeanwhileIsReadFromTheStore() async throws {
        let s = try ListingAheadTests.Setup()
        defer { s.engine.shutdown() }
        let (_, b, _) = try await s.update()
        let body = try await s.source.commitObject(b.commit)
        // A run that has not seen the commit yet, on the same store.
        let run = GitPackSource(
            repositoryURL: s.github.gitURL("acme/ahead"), engine: s.engine, token: nil, store: s.store, raw: nil,
            cacheDirectory: nil, retryPolicy: RetryPolicy(retries: 0))
        let held = ObjectBatch(store: s.store)
        defer { held.discard() }
        #expect(try s.store.insert(body, kind: .commit) == b.commit)  // the other sync
        let writer = try held.makeWriter(kind: .commit, size: body.count)
        try body.withUnsafeBytes { try writer.write($0) }
        #expect(try writer.commit() == b.commit)
        #expect(!held.isPending(b.commit), "the batch kept a copy of an object the store has")
        #expect(try run.heldCommit(b.commit, in: held) == body)
    }

    /// A held commit whose bytes at its path are not its id's: they were hashed as they were written (the batch's
    /// writer, the store's import), so the damage is local, a store-damage error naming the object and its path (a
    /// failover stops; the hint runs `fsck --repair`), not the source's `.integrity` ("damaged or lying"). The
    /// ancestry walk reads the commit as cut (nil: it cannot tell), never as "no".
    @Test func aDamagedHeldCommitIsStoreDamageAndCutsTheWalk() async throws {
        let s = try ListingAheadTests.Setup()
        defer { s.engine.shutdown() }
        let (a, b, _) = try await s.update()
        let body = try await s.source.commitObject(b.commit)
        #expect(!s.store.contains(b.commit))
        let run = GitPackSource(
            repositoryURL: s.github.gitURL("acme/ahead"), engine: s.engine, token: nil, store: s.store, raw: nil,
            cacheDirectory: nil, retryPolicy: RetryPolicy(retries: 0))
        let held = ObjectBatch(store: s.store)
        defer { held.discard() }
        let writer = try held.makeWriter(kind: .commit, size: body.count)
        try body.withUnsafeBytes { try writer.write($0) }
        #expect(try writer.commit() == b.commit)
        let path = held.readablePath(for: b.commit)
        try Data(body.reversed()).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: SmartSyncError.self) { try run.heldCommit(b.commit, in: held) }
        #expect(error.code == .integrity && error.isStoreDamage, "\(error)")
        #expect(error.message.contains(b.commit.hex) && error.message.contains(path), "\(error.message)")
        #expect(SourceFailure.classify(error)?.reason == .local, "\(error)")
        #expect(run.walkHistory(from: b.commit, looking: a.commit, held: held) == nil)
        // A commit read from the store (a pack brought it earlier) whose bytes are not its id's: the same.
        try Data("tree 0\n".utf8).write(to: URL(fileURLWithPath: s.store.path(for: a.commit)))
        let stored = await #expect(throws: SmartSyncError.self) { try await run.commitObject(a.commit) }
        #expect(stored?.isStoreDamage == true && stored?.message.contains(s.store.path(for: a.commit)) == true)
    }
}
