import Foundation
import TestSupport
import Testing

/// The commit checks (anti-rollback) through `--mirror`: the mirrors' `commits/` history answers first, the origin
/// (the fake GitHub's compare) when no mirror can tell; under `--trusted-key` the mirrors alone.
@Suite(.serialized) struct MirrorCommitChecksEndToEndTests {
    private func ancestry(_ r: ProcessResult) throws -> String? {
        (try Scenario.summary(r)["commitChecks"] as? [String: Any])?["ancestry"] as? String
    }

    @Test func theMirrorsHistoryAnswersAndANonDescendantIsRefused() throws {
        let setup = try MirrorSetup()
        let (a, b, c) = try Fixtures.diverging(setup.repo)
        try setup.publish("m1", refs: ["main": b, "side": c], packs: false)
        #expect(try setup.run(mirrors: ["m1"], ["--ref", a]).status == 0)
        try setup.scenario.server.clearLog()
        let forward = try setup.run(mirrors: ["m1"], ["--ref", b, "--json"])
        #expect(forward.status == 0, "\(forward.stderrString)")
        #expect(try ancestry(forward) == "descendant")
        #expect(try setup.scenario.apiRequests().allSatisfy { !$0.path.contains("/compare/") }, "the mirror answered")
        #expect(setup.requests("m1").contains { $0.hasPrefix("/m1/commits/") })
        let back = try setup.run(mirrors: ["m1"], ["--ref", c])
        #expect(back.status == 6, "\(back.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(b)
    }

    @Test func whenNoMirrorCanTellTheOriginsCompareAnswers() throws {
        let setup = try MirrorSetup()
        let (a, b, c) = try Fixtures.diverging(setup.repo)
        // The mirror has A's history only: B and C are unknown to it (404), so it cannot tell.
        try setup.publish("m1", refs: ["main": a], packs: false)
        #expect(try setup.run(mirrors: ["m1"], ["--ref", a]).status == 0)
        try setup.scenario.server.clearLog()
        let forward = try setup.run(mirrors: ["m1"], ["--ref", b, "--json"])
        #expect(forward.status == 0, "\(forward.stderrString)")
        #expect(try ancestry(forward) == "descendant")
        #expect(try setup.scenario.apiRequests().contains { $0.path.contains("/compare/\(a)...\(b)") })
        let back = try setup.run(mirrors: ["m1"], ["--ref", c])
        #expect(back.status == 6, "\(back.stderrString)")
        #expect(back.stderrString.contains("not a descendant"), "\(back.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(b)
    }

    /// `--transport pack` behind a mirror that has published nothing yet (it cannot tell): the origin's ancestry
    /// question asks for B's listing's pack and holds it, and the listing is taken from it: one pack request for the
    /// update, the mirror asked for B's commit once (by the question), not again for the listing. A refused commit's
    /// held pack goes with the refusal. (A's trees came from the origin's pack: the question can say `have` for A.)
    @Test func withThePackTransportTheOriginsQuestionBringsTheListingOnce() throws {
        let setup = try MirrorSetup()
        let (a, b, c) = try Fixtures.diverging(setup.repo)
        #expect(try setup.run(mirrors: ["m1"], ["--transport", "pack", "--ref", a]).status == 0)
        let forward = try setup.run(mirrors: ["m1"], ["--transport", "pack", "--ref", b, "--json"])
        #expect(forward.status == 0, "\(forward.stderrString)")
        #expect(try ancestry(forward) == "descendant")
        let requests = try #require(try Scenario.summary(forward)["requests"] as? [String: Any])
        #expect(requests["packRequests"] as? Int == 1, "the question and the listing in one request: \(requests)")
        // B's commit asked of the mirror once, by the question (404): the listing did not ask it again.
        let asked = setup.requests("m1").filter { $0.hasPrefix("/m1/commits/" + b.prefix(2) + "/" + b.dropFirst(2)) }
        #expect(asked.count == 1, "\(setup.requests("m1"))")
        try setup.scenario.expectTargetEqualsArchive(b)

        let back = try setup.run(mirrors: ["m1"], ["--transport", "pack", "--ref", c])
        #expect(back.status == 6, "\(back.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(b)
        #expect(try FileManager.default.contentsOfDirectory(atPath: setup.scenario.store + "/tmp") == [])
        let object = setup.scenario.store + "/objects/" + c.prefix(2) + "/" + c.dropFirst(2)
        #expect(!FileManager.default.fileExists(atPath: object), "the refused commit reached the store")
    }

    @Test func underATrustedKeyThePublishedHistoryAnswersWithoutTheOrigin() throws {
        let (setup, keys) = (try MirrorSetup(), try TrustedKeyEndToEndTests.Keys())
        let (a, b, c) = try Fixtures.diverging(setup.repo)
        let now = Int(Date().timeIntervalSince1970)
        func publish(_ commit: String, at time: Int) throws -> ProcessResult {
            try setup.publishSigned("m1", refs: ["main": commit], published: time, key: keys.key)
            return try setup.run(mirrors: ["m1"], ["--trusted-key", keys.allowedSigners, "--ref", "main", "--json"])
        }
        #expect(try publish(a, at: now - 300).status == 0)
        let forward = try publish(b, at: now - 200)
        #expect(forward.status == 0, "\(forward.stderrString)")
        #expect(try ancestry(forward) == "descendant")
        let back = try publish(c, at: now - 100)
        #expect(back.status == 6, "\(back.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(b)
        #expect(try setup.scenario.server.requests().isEmpty, "the origin was never contacted")
    }
}
