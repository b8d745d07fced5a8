import Foundation
import TestSupport
import Testing

/// A commit `warm --pin` brought into the store syncs with the network down when it is named by its full id: the
/// pin holds the commit's verified listing, so neither the ref nor the tree needs a request (issue 14: a fleet warms
/// through a cache, then syncs in the maintenance window whatever the network does).
@Suite("Offline sync of a warmed commit")
struct OfflineWarmedSyncTests {
    /// Warmed by its id, the GitHub source's cache of immutable answers already served it offline; warmed as `main`
    /// and synced by id, the sync asked the API whether the commit exists (exit 5 offline) before the pin was used.
    @Test(arguments: ["sha", "main"])
    func pinnedCommitSyncsWithTheServerStopped(warmedAs: String) throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let b = try Fixtures.commitB(s.repo)
        let warmed = try s.run("warm", ["--ref", warmedAs == "sha" ? b : "main", "--pin"])
        #expect(warmed.status == 0, "\(warmed.stderrString)")
        s.server.stop()
        let r = try s.run("sync", ["--ref", b])
        #expect(r.status == 0, "sync of the pinned commit failed offline: \(r.stderrString)")
        try s.expectTargetEqualsArchive(b)
    }
}
