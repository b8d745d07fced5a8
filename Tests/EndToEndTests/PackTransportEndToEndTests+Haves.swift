import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

/// The pack transport's `have`s: what the server leaves out because a `have` reaches it, when the store lost it (a
/// gc, a quarantine) or never had it (an excluded path), and the deltas an update gets because of them.
extension PackTransportEndToEndTests {
    @Test func aSubtreeOfTheOldCommitMissingFromTheStoreCostsOneRequestMore() throws {
        // The update says `have` for the target's commit after checking only its commit and root tree: a subtree the
        // store lost (a gc, a damaged store) is one the server leaves out of the pack, so the listing fails and the
        // pack is asked for again without `have`s. The update still lands whole.
        let repo = try GitFixture()
        try repo.write("kept/deep/a.nix", "a\n")
        try repo.write("kept/b.nix", "b\n")
        try repo.write("conf/main.nix", "main\n")
        let a = try repo.commit("A")
        let p = try PackScenario(repo: repo)
        try p.sync(["--transport", "pack", "--ref", a])
        let object = try p.removeFromStore(try repo.revParse("\(a):kept"))

        try repo.write("conf/main.nix", "main, changed\n")
        let b = try repo.commit("B")
        let before = p.git.requests().count
        try p.sync(["--transport", "pack", "--ref", b])
        try p.s.expectTargetEqualsArchive(b)
        let (_, sent) = p.wireBytes(since: before)
        // The pack with `have`s (asked by the anti-rollback check, whose answer B's parent line gave; unusable), the
        // pack without (a commit id as the ref: no ls-refs).
        #expect(sent.count == 2, "\(sent.map(\.uri))")
        #expect(FileManager.default.fileExists(atPath: object), "the second pack brought the tree back")
    }

    @Test func aBlobTheHavesReachButTheStoreLostIsAskedForAgainWithoutThem() throws {
        // A blob known only under an excluded path, then lost by the store (a gc, a quarantine): B puts the same
        // content at a path the target has. The server counts it among what the `have` (A) reaches, so it leaves it
        // out of B's pack and out of a pack of exactly that blob asked for with the same `have`; asked for without
        // `have`s, it comes.
        let repo = try GitFixture()
        try repo.write("vendor/shared.txt", "shared content\n")
        try repo.write("conf/main.nix", "main\n")
        let a = try repo.commit("A")
        let p = try PackScenario(repo: repo)
        let exclude = ["--transport", "pack", "--exclude", "vendor/**"]
        try p.sync(exclude + ["--ref", a])
        let object = try p.removeFromStore(try repo.revParse("\(a):vendor/shared.txt"))

        try repo.write("conf/copy.txt", "shared content\n")
        let b = try repo.commit("B")
        let before = p.git.requests().count
        let r = try p.run("sync", exclude + ["--ref", b])
        try #require(r.status == 0, "sync failed: \(r.stderrString)")
        #expect(try Scenario.summary(r)["transport"] as? String == "pack")
        #expect(try String(contentsOfFile: p.s.target + "/conf/copy.txt", encoding: .utf8) == "shared content\n")
        #expect(FileManager.default.fileExists(atPath: object), "the blob is in the store again")
        let (_, sent) = p.wireBytes(since: before)
        // B's pack (with `have` A, asked by the anti-rollback check: B's parent line answered it), the blob's pack
        // with it, then without.
        #expect(sent.count == 3, "\(sent.map(\.uri))")
        // Said as a warning (a JSON event with --json), naming the blob.
        #expect(r.stdoutString.contains("asking again without them"), "\(r.stdoutString)")
        #expect(r.stdoutString.contains(try repo.revParse("\(b):conf/copy.txt")), "\(r.stdoutString)")
    }

    @Test func excludedPathsAreLeftAloneAndUpdatesStayDeltas() throws {
        let repo = try GitFixture()
        let text = { (tag: String) in (0..<2000).map { "line \($0) of the \(tag) file" }.joined(separator: "\n") }
        try repo.write("vendor/huge.txt", text("vendored") + "\n")
        try repo.write("conf/main.nix", text("main") + "\n")
        try repo.commit("A")
        let p = try PackScenario(repo: repo)
        let exclude = ["--transport", "pack", "--exclude", "vendor/**"]
        try p.sync(exclude)
        let cold = p.wireBytes(since: 0).bytes

        // B changes the excluded file too (packs carry it into the store; the target never sees it).
        try repo.write("vendor/huge.txt", text("vendored") + "\nmore\n")
        try repo.write("conf/main.nix", text("main") + "\nb\n")
        try repo.commit("B")
        try p.sync(exclude)
        #expect(try String(contentsOfFile: p.s.target + "/conf/main.nix", encoding: .utf8).hasSuffix("\nb\n"))
        #expect(!FileManager.default.fileExists(atPath: p.s.target + "/vendor/huge.txt"))

        // C changes only what the target has: deltas against B, a fraction of the cold pack.
        try repo.write("conf/main.nix", text("main") + "\nc\n")
        try repo.commit("C")
        let before = p.git.requests().count
        try p.sync(exclude)
        #expect(try String(contentsOfFile: p.s.target + "/conf/main.nix", encoding: .utf8).hasSuffix("\nc\n"))
        let (_, sent) = p.wireBytes(since: before)
        // ls-refs, the pack (asked by the anti-rollback check and held until C's parent line answered it).
        #expect(sent.count == 2, "\(sent.map(\.uri))")
        let pack = sent.last.map { $0.requestLength + $0.bytesSent } ?? 0
        #expect(pack * 4 < cold, "update pack \(pack) bytes, cold \(cold)")
    }
}
