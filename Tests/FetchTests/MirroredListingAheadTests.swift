import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// `--mirror --transport pack`: the listing said ahead reaches the origin only when no mirror has the new commit
/// (``MirroredSource/listingAhead(_:hints:)``).
extension ListingAheadTests {
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
