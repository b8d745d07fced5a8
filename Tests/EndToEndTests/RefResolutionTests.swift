import Foundation
import TestSupport
import Testing

@Suite("ref resolution")
struct RefResolutionTests {
    @Test func everyRefKindResolvesToItsCommit() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.repo.tag("v1", annotated: true, message: "release v1")
        try s.repo.tag("light", at: a)
        let b = try Fixtures.commitB(s.repo)
        try s.repo.branch("feature/x", at: a)
        let cases: [(ref: String?, commit: String)] = [
            (nil, b),  // the default branch
            ("main", b), ("v1", a), ("light", a), ("feature/x", a), (a, a), (String(b.prefix(8)), b),
        ]
        for (ref, commit) in cases {
            // Back and forth between A and B on one target: resolution is tested here, not anti-rollback.
            let summary = try s.sync((ref.map { ["--ref", $0] } ?? []) + ["--allow-downgrade"])
            #expect(summary["commit"] as? String == commit, "ref \(ref ?? "<default>")")
            try s.expectTargetEqualsArchive(commit)
        }
    }

    @Test func unknownRefAndRepositoryAreNamedInTheError() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let badRef = try s.run("sync", ["--ref", "no-such-branch"])
        #expect(badRef.status == 4)
        #expect(badRef.stderrString.contains("'no-such-branch'"))
        #expect(badRef.stderrString.contains("acme/hyper"))
        #expect(!FileManager.default.fileExists(atPath: s.target))

        var args = [
            "sync", "acme/missing", "--transport", "raw", "--api-url", s.server.apiURL, "--raw-url", s.server.rawURL,
            "--git-url",
            s.server.gitURL,
        ]
        args += ["--store", s.store, "--state-dir", s.stateDir, "--target", s.target]
        let badRepo = try SmartSyncBinary.run(args, environment: s.environment(), check: false)
        #expect(badRepo.status == 4)
        #expect(badRepo.stderrString.contains("acme/missing"))
        #expect(badRepo.stderrString.contains("404"))
        #expect(badRepo.stderrString.contains("GH_TOKEN"), "a missing repo may be private: the hint names the token")

        let badSlug = try SmartSyncBinary.run(
            ["sync", "not-a-slug", "--target", s.target], environment: s.environment(), check: false)
        #expect(badSlug.status == 64)
        #expect(badSlug.stderrString.contains("OWNER/REPO"))
    }

    @Test func tokenGoesOnlyToTheAPIAndRawHostsAndIsNeverPrinted() throws {
        let token = "ghp_SECRETSECRETSECRET"
        let s = try Scenario(token: token, privateRepo: true)
        let a = try Fixtures.commitA(s.repo)
        // Without the token the private repository is invisible.
        let anonymous = try s.run("sync")
        #expect(anonymous.status == 4)
        let r = try s.run("sync", ["--verbose", "--json"], token: token)
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        #expect(!r.stdoutString.contains(token) && !r.stderrString.contains(token))
        let requests = try s.server.requests().filter { $0.status == 200 }
        #expect(!requests.isEmpty && requests.allSatisfy(\.hadAuthorization))
    }
}
