import Foundation
import TestSupport
import Testing

/// One ref order on every transport: the REST path (`raw`), packs (`pack`, `auto`), the shallow clone
/// (`--force-full`) and a local repository (`--source`) resolve, refuse and disambiguate the same inputs alike.
@Suite("one ref order on every transport", .serialized)
struct RefOrderTests {
    /// How a sync reaches the repository.
    enum Transport: String, CaseIterable {
        case raw, pack, auto, clone, local

        /// `sync --ref ref --json` into a target of its own. These tests resolve refs, back and forth between
        /// commits on one target: `--allow-downgrade` (anti-rollback has its own tests).
        func sync(_ s: Scenario, ref: String, target: String) throws -> ProcessResult {
            let common = ["--ref=" + ref, "--json", "--allow-downgrade"]
            switch self {
            case .raw: return try s.run("sync", common, target: target)
            case .pack, .auto: return try s.run("sync", common + ["--transport", rawValue], target: target)
            case .clone: return try s.run("sync", common + ["--force-full"], target: target)
            case .local:
                let args =
                    ["sync", "--source", s.repo.path, "--target", target, "--store", s.store, "--state-dir", s.stateDir]
                    + common
                return try SmartSyncBinary.run(args, environment: s.environment(), check: false)
            }
        }
    }

    /// The commit a successful run synced, or nil (recording the failure).
    private func synced(
        _ r: ProcessResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String? {
        guard r.status == 0 else {
            Issue.record("\(what) failed: \(r.stderrString)", sourceLocation: sourceLocation)
            return nil
        }
        return try Scenario.summary(r)["commit"] as? String
    }

    @Test func aNameThatIsBothATagAndABranchIsRefusedOnEveryTransport() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let b = try Fixtures.commitB(s.repo)
        try s.repo.branch("release", at: a)
        try s.repo.tag("release", annotated: true, at: b, message: "the release tag")
        for transport in Transport.allCases {
            let target = s.dirs.appending("target-\(transport)")
            let r = try transport.sync(s, ref: "release", target: target)
            #expect(r.status == 64, "\(transport): \(r.status) \(r.stderrString)")
            #expect(r.stderrString.contains("refs/tags/release"), "\(transport): \(r.stderrString)")
            #expect(r.stderrString.contains("refs/heads/release"), "\(transport): \(r.stderrString)")
            #expect(!FileManager.default.fileExists(atPath: target), "\(transport)")
            // The full names say which one is meant.
            let tag = try synced(transport.sync(s, ref: "refs/tags/release", target: target), "\(transport) tag")
            #expect(tag == b, "\(transport)")
            let branch = try synced(
                transport.sync(s, ref: "refs/heads/release", target: target), "\(transport) branch")
            #expect(branch == a, "\(transport)")
        }
    }

    @Test func everyTransportAcceptsAndRefusesTheSameInputs() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.repo.tag("v1", annotated: true, message: "release v1")
        try s.repo.branch("feature/x", at: a)
        try s.repo.git("update-ref", "refs/pull/1/head", a)
        let b = try Fixtures.commitB(s.repo)
        let accepted: [(ref: String, commit: String)] = [
            ("main", b), ("refs/heads/main", b), ("v1", a), ("feature/x", a), ("heads/feature/x", a), (a, a),
            (a.uppercased(), a), ("pull/1/head", a),
        ]
        let refused = ["main~1", "HEAD^", "v1^{commit}", "main@{1}", "a..b", "-x", "+main", "a b", "x.lock", ".x", "x/"]
        for transport in Transport.allCases {
            let target = s.dirs.appending("target-\(transport)")
            for (ref, commit) in accepted {
                let got = try synced(transport.sync(s, ref: ref, target: target), "\(transport) --ref \(ref)")
                #expect(got == commit, "\(transport) --ref \(ref)")
            }
            for ref in refused {
                let r = try transport.sync(s, ref: ref, target: s.dirs.appending("refused"))
                #expect(r.status == 64, "\(transport) --ref \(ref): \(r.status) \(r.stderrString)")
                #expect(r.stderrString.contains("'\(ref)' is not a valid ref"), "\(transport): \(r.stderrString)")
            }
            let missing = try transport.sync(s, ref: "no-such-ref", target: s.dirs.appending("refused"))
            #expect(missing.status == 4, "\(transport): \(missing.stderrString)")
            #expect(missing.stderrString.contains("'no-such-ref'"), "\(transport): \(missing.stderrString)")
            #expect(!FileManager.default.fileExists(atPath: s.dirs.appending("refused")))
        }
    }

    @Test func aShortSHAIsNeverTakenWhenARefOfThatNameExists() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let b = try Fixtures.commitB(s.repo)
        // A branch whose name is commit A's abbreviation, pointing at B.
        let prefix = String(a.prefix(9))
        try s.repo.branch(prefix, at: b)
        for transport in Transport.allCases {
            let target = s.dirs.appending("target-\(transport)")
            try s.server.clearLog()
            let got = try synced(transport.sync(s, ref: prefix, target: target), "\(transport)")
            #expect(got == b, "\(transport): the branch, not the commit the name abbreviates")
            if transport == .raw {
                // The REST path asked for the refs and never let GitHub read the name as a SHA.
                let paths = try s.apiRequests().map(\.path)
                #expect(!paths.contains { $0.contains("/commits/") }, "\(paths)")
                #expect(paths.contains { $0.contains("/git/matching-refs/heads/\(prefix)") }, "\(paths)")
            }
        }
        // Without such a ref, the abbreviation names the commit where the transport can expand it.
        let short = String(b.prefix(9))
        for transport in [Transport.raw, .auto, .local] {
            let got = try synced(
                transport.sync(s, ref: short, target: s.dirs.appending("short-\(transport)")), "\(transport)")
            #expect(got == b, "\(transport)")
        }
        for transport in [Transport.pack, .clone] {
            let r = try transport.sync(s, ref: short, target: s.dirs.appending("short-\(transport)"))
            #expect(r.status == 4, "\(transport): \(r.stderrString)")
            #expect(r.stderrString.contains("full 40"), "\(transport): \(r.stderrString)")
        }
    }

    @Test func aNoOpCostsOnlyConditionalRequestsOnTheRESTPath() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.repo.tag("v1", annotated: true, message: "release v1")
        try s.repo.branch("feature/x", at: a)
        // The ref as given → the requests a second, unchanged sync makes (all answered 304: no quota).
        let costs: [(ref: String?, requests: Int)] = [
            (nil, 1), ("main", 2), ("refs/heads/main", 1), ("v1", 2), ("refs/tags/v1", 1), ("feature/x", 3), (a, 0),
        ]
        for (index, (ref, requests)) in costs.enumerated() {
            let target = s.dirs.appending("target-\(index)")
            let args = (ref.map { ["--ref=" + $0] } ?? []) + ["--json"]
            #expect(try s.run("sync", args, target: target).status == 0)
            try s.server.clearLog()
            let again = try s.run("sync", args, target: target)
            #expect(again.status == 0, "\(again.stderrString)")
            let api = try s.apiRequests()
            #expect(api.count == requests, "\(ref ?? "HEAD"): \(api.map { "\($0.path) \($0.status)" })")
            #expect(api.allSatisfy { $0.status == 304 }, "\(ref ?? "HEAD"): \(api.map { "\($0.path) \($0.status)" })")
            #expect(try s.rawRequests().isEmpty)
        }
    }
}

/// The REST path picks and refuses as the other transports do when a form git ranks first is created beside the one a
/// name resolved to before (a remembered form, tried once and reverted, missed both; ARCHITECTURE, "Refs").
extension RefOrderTests {
    @Test func aTagCreatedBesideAnUnchangedRememberedBranchIsRefusedAsOnThePackPath() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let b = try Fixtures.commitB(s.repo)
        try s.repo.branch("topic", at: a)
        let target = s.dirs.appending("target")
        #expect(try synced(Transport.raw.sync(s, ref: "topic", target: target), "first") == a)
        // The branch does not move; a tag of the same name appears.
        try s.repo.tag("topic", at: b)
        let pack = try Transport.pack.sync(s, ref: "topic", target: s.dirs.appending("target-pack"))
        #expect(pack.status == 64, "pack: \(pack.stderrString)")
        let raw = try Transport.raw.sync(s, ref: "topic", target: target)
        #expect(raw.status == 64, "raw: \(raw.status) \(raw.stderrString)")
    }

    @Test func aBranchCreatedBesideARememberedRemoteTrackingRefWins() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let b = try Fixtures.commitB(s.repo)
        try s.repo.git("update-ref", "refs/remotes/rtopic", a)
        let target = s.dirs.appending("target")
        #expect(try synced(Transport.raw.sync(s, ref: "rtopic", target: target), "first") == a)
        // A branch of that name appears: git's order takes refs/heads/rtopic before refs/remotes/rtopic.
        try s.repo.branch("rtopic", at: b)
        let pack = try synced(Transport.pack.sync(s, ref: "rtopic", target: s.dirs.appending("target-pack")), "pack")
        #expect(pack == b)
        #expect(try synced(Transport.raw.sync(s, ref: "rtopic", target: target), "raw") == b)
    }
}
