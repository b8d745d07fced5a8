import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

extension ListingAheadTests.Setup {
    /// A mirror that cannot serve the new commit.
    enum LackingMirror: CaseIterable, Sendable {
        /// Nothing published: every commit of it "not found", so it cannot tell.
        case unpublished
        /// Down: its port refused.
        case refused
        /// Down: every request answered 503 (no retries).
        case failing
    }

    /// The source behind one `mirror`, and a count of the requests that mirror got so far.
    func mirrored(_ mirror: LackingMirror = .unpublished) throws -> (MirroredSource, () throws -> Int) {
        var base = github.rawURL + "/no-mirror/"
        switch mirror {
        case .unpublished: break
        case .refused: base = "http://127.0.0.1:\(try LoopbackHTTPServer.unusedPort())/no-mirror/"
        case .failing:
            try github.setFaults(#"[{"match": {"path_regex": "/no-mirror/"}, "action": {"status": 503}}]"#)
        }
        let github = self.github
        return (
            MirroredSource(mirrors: [MirrorSource(baseURL: base, engine: engine, retryPolicy: .none)], origin: source),
            { try github.requests().filter { $0.path.contains("/no-mirror/") }.count }
        )
    }
}

/// `--mirror --transport pack`: the listing said ahead reaches the origin only when no mirror has the new commit
/// (``MirroredSource/listingAhead(_:hints:)``).
extension ListingAheadTests {
    /// `--mirror` says the listing ahead to its origin alone: when no mirror has the new commit (none published
    /// there) or its mirror is down (its port refused, or 503 after its retries: it cannot serve the listing
    /// either), the origin's question brings the listing's pack (one fetch), and the listing is then taken from the
    /// origin, which holds it (``SyncSource/holdsListing(for:hints:)``), not asked of a mirror: downloaded once.
    /// Before, the listing was not said ahead (said to the chain, a mirror serving the listing made the origin's pack
    /// a download for nothing), so the question cost the origin a history request and the listing one more; and
    /// until the eighth session a down mirror counted as having the commit: the origin made a history request, the
    /// listing went to the chain, whose mirror failed again, and the origin's listing was a second request.
    @Test(arguments: ListingAheadTests.Setup.LackingMirror.allCases)
    func aMirrorRunsOriginAnswersWithTheListingsPackAndServesIt(mirror: ListingAheadTests.Setup.LackingMirror)
        async throws
    {
        let s = try Setup()
        defer { s.engine.shutdown() }
        let (a, b, blob) = try await s.update()
        let hints = ListingHints(haves: [a.commit])
        let (run, mirrorRequests) = try s.mirrored(mirror)

        let before = try s.fetches()
        run.listingAhead(b, hints: hints)
        #expect(try await run.isAncestor(a.commit, of: b.commit) == true)
        #expect(try s.fetches() == before + 1, "the question cost more than the listing's pack")
        #expect(run.holdsListing(for: b, hints: hints), "the mirror was counted as having the commit")
        #expect(!run.holdsListing(for: b, hints: ListingHints()))
        #expect(!s.store.contains(b.commit) && !s.store.contains(blob))
        let asked = try mirrorRequests()
        #expect(asked == (mirror == .refused ? 0 : 1), "the mirror was not asked the question first, once")

        let listing = try await run.listing(for: b, hints: hints)
        #expect(listing.commit == b.commit && s.store.contains(blob))
        #expect(try s.fetches() == before + 1, "the listing was downloaded again")
        #expect(try mirrorRequests() == asked, "a mirror was asked for the listing the origin held")
        #expect(!run.holdsListing(for: b, hints: hints))
        #expect(s.temporaries().isEmpty, "\(s.temporaries())")
        run.close()
    }

    /// Through `--mirror`, a commit the origin's history refuses, or one the runner refuses after the ancestry (a
    /// signature: ``SyncSource/withdrawListingAhead()``), leaves nothing of its held pack in `tmp/` or the store.
    @Test func aMirrorRunsRefusedCommitLeavesNothingHeld() async throws {
        let s = try Setup()
        defer { s.engine.shutdown() }
        let (b, c) = try await s.diverged()
        let (run, _) = try s.mirrored()

        // C's parent is X, not B: the held pack does not answer, the history says no, and the pack is dropped.
        run.listingAhead(c, hints: ListingHints(haves: [b.commit]))
        #expect(try await run.isAncestor(b.commit, of: c.commit) == false)
        #expect(!run.holdsListing(for: c, hints: ListingHints(haves: [b.commit])))
        #expect(s.temporaries().isEmpty, "the refused commit's pack was left in tmp/: \(s.temporaries())")
        #expect(!s.store.contains(c.commit))
        run.withdrawListingAhead()

        // C's child D answers by its parent line; the runner then refuses it and withdraws: the held pack goes now.
        _ = try await run.listing(for: c)
        try s.repo.write("side.txt", "on\n")
        let d = try s.commit(try s.repo.commit("D"))
        let hints = ListingHints(haves: [c.commit])
        run.listingAhead(d, hints: hints)
        #expect(try await run.isAncestor(c.commit, of: d.commit) == true)
        #expect(run.holdsListing(for: d, hints: hints) && !s.temporaries().isEmpty)
        run.withdrawListingAhead()
        #expect(!run.holdsListing(for: d, hints: hints))
        #expect(s.temporaries().isEmpty, "the refused commit's held pack outlived the refusal: \(s.temporaries())")
        #expect(!s.store.contains(d.commit))
        run.close()
    }

    /// A mirror that has the new commit C but not B, the commit between it and the target's A (its `commits/` file
    /// gone, as a mirror that published C alone), cannot tell the ancestry, yet it can serve C's listing and blobs:
    /// the origin answers the question with its history (one request, no listing's pack held), and the listing comes
    /// from the mirror. Before, the listing was said ahead to the origin whatever the mirrors had: its question
    /// downloaded C's whole delta with its blobs (then the history too), and the listing was taken from it, the
    /// mirror passed over.
    @Test func aMirrorThatHasTheNewCommitButCannotTellStillServesTheListing() async throws {
        let s = try Setup()
        defer { s.engine.shutdown() }
        let (a, b, _) = try await s.update()
        try s.repo.write("conf/main.nix", "c\n")
        let c = try s.commit(try s.repo.commit("C"))
        let nginx = try NginxServer(tls: false, logFormat: "$request_uri $status")
        defer { nginx.stop() }
        try MirrorLayout.publish(
            s.repo, refs: ["main": c.commit.hex], head: "main", to: nginx.root + "/m", repository: "acme/ahead")
        try FileManager.default.removeItem(atPath: MirrorLayout.path(nginx.root + "/m", "commits", b.commit.hex))
        let mirror = MirrorSource(baseURL: nginx.baseURL + "/m/", engine: s.engine, retryPolicy: .none)
        let run = MirroredSource(mirrors: [mirror], origin: s.source)
        let hints = ListingHints(haves: [a.commit])

        let before = try s.fetches()
        run.listingAhead(c, hints: hints)
        #expect(try await run.isAncestor(a.commit, of: c.commit) == true)
        let asked = try s.fetches() - before
        #expect(asked == 1, "the origin's question cost \(asked) fetches, not its history request")
        #expect(!run.holdsListing(for: c, hints: hints), "the origin downloaded the listing a mirror has")
        #expect(s.temporaries().isEmpty, "\(s.temporaries())")

        let listing = try await run.listing(for: c, hints: hints)
        #expect(listing.commit == c.commit)
        #expect(try s.fetches() == before + asked, "the origin was asked for the listing")
        let log = nginx.accessLogLines()
        #expect(log.contains { $0.contains("/listings/") && $0.hasSuffix(" 200") }, "\(log)")
        run.close()
    }

    /// A mirror that serves the new commit C, then answers 503 for its parent B further down the walk, has C: it can
    /// serve C's listing, so the origin answers with its history and holds no listing's pack. Before, a failure
    /// anywhere in the walk counted the mirror as down, and the origin sent the listing and blobs the mirror has.
    @Test func aMirrorThatFailsBelowTheNewCommitStillCountsAsHavingIt() async throws {
        let s = try Setup()
        defer { s.engine.shutdown() }
        let (a, b, _) = try await s.update()
        try s.repo.write("conf/main.nix", "c\n")
        let c = try s.commit(try s.repo.commit("C"))
        let parent = "/m/commits/" + b.commit.hex.prefix(2) + "/" + b.commit.hex.dropFirst(2)
        let nginx = try NginxServer(
            serverConfig: "location = \(parent) { return 503; }", tls: false, logFormat: "$request_uri $status")
        defer { nginx.stop() }
        try MirrorLayout.publish(
            s.repo, refs: ["main": c.commit.hex], head: "main", to: nginx.root + "/m", repository: "acme/ahead")
        let mirror = MirrorSource(baseURL: nginx.baseURL + "/m/", engine: s.engine, retryPolicy: .none)
        let run = MirroredSource(mirrors: [mirror], origin: s.source)
        let hints = ListingHints(haves: [a.commit])

        run.listingAhead(c, hints: hints)
        #expect(try await run.isAncestor(a.commit, of: c.commit) == true)
        #expect(!run.holdsListing(for: c, hints: hints), "the mirror that served C was counted as down")
        let log = nginx.accessLogLines()
        #expect(log.contains { $0.hasPrefix(parent) && $0.hasSuffix(" 503") }, "\(log)")
        #expect(s.temporaries().isEmpty, "\(s.temporaries())")
        run.close()
    }

    /// An origin that holds the listing, whose listing then fails as the pack source's per-blob path does: a network
    /// error thrown classified (``SourceFailure/Reason/delegated``).
    struct HeldListingBreaksOff: SyncSource {
        var displayName: String { "origin" }
        var transport: String { "pack" }
        var statistics: SourceStatistics { SourceStatistics() }
        static var brokenOff: SourceFailure {
            SourceFailure(.delegated, SmartSyncError(.network, "the connection broke off"))
        }
        func resolve(_ ref: String?) async throws -> ResolvedRef { throw Self.brokenOff }
        func holdsListing(for ref: ResolvedRef, hints: ListingHints) -> Bool { true }
        func listing(for ref: ResolvedRef) async throws -> TreeListing { throw Self.brokenOff }
        func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
            async throws -> FetchReport
        { throw Self.brokenOff }
        func close() {}
    }

    /// The origin's held listing failing with a ``SourceFailure`` the mirror policy moves on from: the chain (a
    /// mirror that has the commit) serves the listing. Before, only a ``SmartSyncError`` was caught there, and the
    /// run ended on the origin's failure.
    @Test func aHeldListingThatFailsClassifiedIsServedByTheChain() async throws {
        let repo = try GitFixture()
        try repo.write("conf/main.nix", "a\n")
        let commit = try repo.commit("A")
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let nginx = try NginxServer(tls: false)
        defer { nginx.stop() }
        try MirrorLayout.publish(
            repo, refs: ["main": commit], head: "main", to: nginx.root + "/m", repository: "acme/ahead")
        let mirror = MirrorSource(baseURL: nginx.baseURL + "/m/", engine: engine, retryPolicy: .none)
        let run = MirroredSource(mirrors: [mirror], origin: HeldListingBreaksOff())
        let ref = ResolvedRef(name: "main", commit: try #require(ObjectID(hex: commit)))

        let listing = try await run.listing(for: ref, hints: ListingHints())
        #expect(listing.commit == ref.commit)
        run.close()
    }
}
