import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

/// The pack transport end to end: the real binary against `git http-backend` behind nginx + fcgiwrap (protocol v2,
/// filters and any-SHA-1 wants allowed, as GitHub's server behaves), the GitHub-shaped server for REST and raw.
@Suite("pack transport against git http-backend", .serialized)
struct PackTransportEndToEndTests {
    /// A scenario whose repository is also served by a real git smart HTTP server.
    final class PackScenario: @unchecked Sendable {
        let s: Scenario
        let git: GitHTTPServer

        init(repo: GitFixture? = nil, protocolV2: Bool = true) throws {
            s = try Scenario(repo: repo)
            git = try GitHTTPServer(repositories: [s.slug: s.repo.gitDir], protocolV2: protocolV2)
        }

        deinit { git.stop() }

        /// `sync` with `--git-url` at nginx; returns the JSON summary.
        @discardableResult
        func sync(_ extra: [String]) throws -> [String: Any] {
            let r = try run("sync", extra)
            try #require(r.status == 0, "sync failed: \(r.stderrString)\n\(r.stdoutString)")
            return try Scenario.summary(r)
        }

        func run(_ command: String, _ extra: [String]) throws -> ProcessResult {
            try s.run(command, ["--git-url", git.baseURL, "--json"] + extra)
        }

        /// Removes the object `id` (hex) from the store (a gc, a damaged store), which a pack stored; its path.
        @discardableResult
        func removeFromStore(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            let object = s.store + "/objects/" + id.prefix(2) + "/" + id.dropFirst(2)
            #expect(
                FileManager.default.fileExists(atPath: object), "the pack stored \(id)", sourceLocation: sourceLocation)
            try FileManager.default.removeItem(atPath: object)
            return object
        }

        /// Bytes on the wire (both ways) of the requests nginx logged since `from`.
        func wireBytes(since from: Int) -> (bytes: Int, requests: [GitHTTPRequest]) {
            let requests = Array(git.requests().dropFirst(from))
            return (requests.reduce(0) { $0 + $1.requestLength + $1.bytesSent }, requests)
        }
    }

    private func requests(_ summary: [String: Any]) -> [String: Any] { summary["requests"] as? [String: Any] ?? [:] }

    @Test func coldAndIncrementalSyncsEqualGitArchive() throws {
        let p = try PackScenario()
        let a = try Fixtures.commitA(p.s.repo)
        let cold = try p.sync(["--transport", "pack"])
        try p.s.expectTargetEqualsArchive(a)
        #expect(cold["transport"] as? String == "pack")
        #expect((requests(cold)["packObjects"] as? Int ?? 0) > 0)
        // Nothing went to the REST API or the raw host.
        #expect(try p.s.server.requests().isEmpty)

        let b = try Fixtures.commitB(p.s.repo)
        let before = p.git.requests().count
        let update = try p.sync(["--transport", "pack"])
        try p.s.expectTargetEqualsArchive(b)
        #expect(update["commit"] as? String == b)
        let (_, sent) = p.wireBytes(since: before)
        // Capabilities are remembered: ls-refs, then one fetch, the listing's pack, asked by the anti-rollback check
        // and held until B's parent line (A) answered it (no history request of its own, as there was before).
        #expect(sent.map(\.method) == ["POST", "POST"], "\(sent.map(\.uri))")
        #expect(sent.allSatisfy { $0.gitProtocol == "version=2" })
        #expect(Set(sent.map(\.connection)).count == 1, "ls-refs and fetch share one connection")
    }

    /// A commit id names an immutable tree: once it is the target's, syncing it again asks nobody anything.
    @Test(arguments: ["pack", "raw", "auto"])
    func aFullCommitIdAlreadyAppliedCostsNoRequest(transport: String) throws {
        let p = try PackScenario()
        let a = try Fixtures.commitA(p.s.repo)
        try p.sync(["--transport", transport, "--ref", a])
        try p.s.server.clearLog()
        let before = p.git.requests().count
        let again = try p.sync(["--transport", transport, "--ref", a])
        #expect((again["plan"] as? [String: Any])?["upToDate"] as? Bool == true)
        #expect(p.git.requests().count == before, "\(p.wireBytes(since: before).requests.map(\.uri))")
        let asked = try p.s.server.requests()
        #expect(asked.isEmpty, "\(asked.map(\.path))")
        try p.s.expectTargetEqualsArchive(a)
    }

    /// A branch already applied costs one round trip (`ls-refs`), however it is named; a full commit id none
    /// (``aFullCommitIdAlreadyAppliedCostsNoRequest(transport:)``).
    @Test(arguments: [[], ["--ref", "main"], ["--ref", "refs/heads/main"]])
    func noOpSyncIsOneSmallRoundTrip(ref: [String]) throws {
        let p = try PackScenario()
        _ = try Fixtures.commitA(p.s.repo)
        try p.sync(["--transport", "pack"] + ref)
        try p.s.server.clearLog()
        let before = p.git.requests().count
        let again = try p.sync(["--transport", "pack"] + ref)
        #expect(try p.s.server.requests().isEmpty, "the pack transport asks the API nothing")
        let (bytes, sent) = p.wireBytes(since: before)
        #expect(sent.count == 1, "\(sent.map(\.uri))")
        #expect(bytes <= 2048, "a no-op moved \(bytes) bytes")
        let plan = try #require(again["plan"] as? [String: Any])
        #expect(plan["upToDate"] as? Bool == true)
    }

    @Test func incrementalBytesWithinGitFetchDepthOne() throws {
        // A configuration-sized repository: 300 text files; B edits 12 of them by a line each.
        let repo = try GitFixture()
        for i in 0..<300 {
            let lines = (0..<(20 + i % 80)).map { "option.\(i).\($0) = \"value \($0 * 7919 % 1000)\";" }
            try repo.write("modules/m\(i / 30)/file\(i).nix", lines.joined(separator: "\n") + "\n")
        }
        let a = try repo.commit("A")
        try repo.tag("a", at: a)
        let p = try PackScenario(repo: repo)
        try p.sync(["--transport", "pack", "--ref", a])
        for i in stride(from: 0, to: 300, by: 25) {
            try repo.write(
                "modules/m\(i / 30)/file\(i).nix",
                (try String(contentsOfFile: repo.path + "/modules/m\(i / 30)/file\(i).nix", encoding: .utf8))
                    + "option.changed = true;\n")
        }
        let b = try repo.commit("B")

        var start = p.git.requests().count
        try p.sync(["--transport", "pack", "--ref", b])
        try p.s.expectTargetEqualsArchive(b)
        let ours = p.wireBytes(since: start).bytes

        // The peer: a shallow clone of A, then `git fetch --depth 1` of B, through the same nginx.
        let work = try TemporaryDirectory(prefix: "peer")
        let url = p.git.url(p.s.slug)
        let env = GitFixture.environment
        try ProcessRunner.run(
            "git",
            ["-c", "protocol.version=2", "clone", "-q", "--depth", "1", "--branch", "a", url, work.appending("c")],
            environment: env)
        start = p.git.requests().count
        try ProcessRunner.run(
            "git", ["-C", work.appending("c"), "-c", "protocol.version=2", "fetch", "-q", "--depth", "1", "origin", b],
            environment: env)
        let git = p.wireBytes(since: start).bytes
        print("incremental update of 12 files in 300: smart-sync pack \(ours) bytes, git fetch --depth 1 \(git) bytes")
        #expect(Double(ours) <= 1.2 * Double(git), "smart-sync moved \(ours) bytes, git fetch --depth 1 \(git)")
    }

    @Test func autoUsesRawForLargeBlobsAndPacksForTheRest() throws {
        let (repo, a) = try repositoryWithALargeBlob()
        let p = try PackScenario(repo: repo)
        let summary = try p.sync(["--transport", "auto", "--pack-blob-limit", "64K"])
        try p.s.expectTargetEqualsArchive(a)
        #expect(summary["transport"] as? String == "pack+raw")
        let raw = try p.s.rawRequests()
        #expect(raw.count == 1 && raw.first?.path.hasSuffix("/images/disk.img") == true, "\(raw.map(\.path))")
        #expect(try p.s.apiRequests().isEmpty, "refs came from ls-refs")
    }

    @Test func autoFallsBackToRawWhenTheHostDoesNotSpeakV2() throws {
        let p = try PackScenario(protocolV2: false)
        let a = try Fixtures.commitA(p.s.repo)
        let r = try p.run("sync", ["--transport", "auto"])
        try #require(r.status == 0, "sync failed: \(r.stderrString)")
        let summary = try Scenario.summary(r)
        try p.s.expectTargetEqualsArchive(a)
        #expect(summary["transport"] as? String == "raw")
        let reason = try #require(summary["fallbackReason"] as? String)
        #expect(reason.contains("protocol v2"), "\(reason)")
        #expect(r.stdoutString.contains("using per-blob downloads"))

        // --transport pack does not fall back: it fails, naming the problem, and changes nothing.
        let p2 = try PackScenario(protocolV2: false)
        _ = try Fixtures.commitA(p2.s.repo)
        let failed = try p2.run("sync", ["--transport", "pack"])
        #expect(failed.status != 0)
        #expect(failed.stderrString.contains("protocol v2"), "\(failed.stderrString)")
        #expect(!FileManager.default.fileExists(atPath: p2.s.target + "/README.md"))
    }

    /// A host found not to speak protocol v2 is remembered for a day (beside the capability cache): later runs go
    /// straight to per-blob downloads, with no probe of the git host and no warning; the first run said why.
    @Test func aHostWithoutV2IsRememberedAndNotProbedAgain() throws {
        let p = try PackScenario(protocolV2: false)
        _ = try Fixtures.commitA(p.s.repo)
        let first = try p.run("sync", ["--transport", "auto"])
        try #require(first.status == 0, "sync failed: \(first.stderrString)")
        #expect(first.stdoutString.contains("using per-blob downloads"))
        let probes = p.git.requests().count
        #expect(probes > 0)

        let b = try Fixtures.commitB(p.s.repo)
        let second = try p.run("sync", ["--transport", "auto"])
        try #require(second.status == 0, "sync failed: \(second.stderrString)")
        try p.s.expectTargetEqualsArchive(b)
        #expect(p.git.requests().count == probes, "the git host was asked again")
        #expect(!second.stdoutString.contains("using per-blob downloads"), "\(second.stdoutString)")
        #expect(!second.stderrString.contains("protocol v2"), "\(second.stderrString)")
        #expect(try Scenario.summary(second)["transport"] as? String == "raw")

        // --transport pack still asks (the operator named it), and says what is wrong.
        let pack = try p.run("sync", ["--transport", "pack"])
        #expect(pack.status != 0)
        #expect(p.git.requests().count > probes)
    }

    @Test func planFetchesTreesButNoBlobs() throws {
        let p = try PackScenario()
        let a = try Fixtures.commitA(p.s.repo)
        let r = try p.run("plan", ["--transport", "pack"])
        #expect(r.status == 3, "plan: \(r.stderrString)")
        // A pack's tree listing carries no blob sizes: the plan says how many are of unknown size (it printed "(0 B)").
        let planned = try #require(try Scenario.summary(r)["plan"] as? [String: Any])
        let toFetch = try #require(planned["blobsToFetch"] as? Int)
        #expect(toFetch > 0)
        #expect(planned["blobsOfUnknownSize"] as? Int == toFetch, "\(planned)")
        let blobs = try p.s.repo.git("ls-tree", "-r", "--format=%(objectname)", a).split(separator: "\n")
        for blob in blobs {
            let hex = String(blob)
            let path = p.s.store + "/objects/" + hex.prefix(2) + "/" + hex.dropFirst(2)
            #expect(!FileManager.default.fileExists(atPath: path), "plan stored blob \(hex)")
        }
        // The next sync reuses the stored trees and asks only for the blobs.
        try p.sync(["--transport", "pack"])
        try p.s.expectTargetEqualsArchive(a)
    }

    @Test func killedPackTransferResumesWithOnlyTheMissingObjects() throws {
        // 40 incompressible blobs of 48 KiB: about 2 MB of pack, fetched at 256 KiB/s (about 8 s).
        let repo = try GitFixture()
        var x: UInt32 = 99
        for f in 0..<40 {
            var bytes = [UInt8](repeating: 0, count: 48 << 10)
            for i in bytes.indices {
                x = x &* 1_103_515_245 &+ 12345
                bytes[i] = UInt8(truncatingIfNeeded: x >> 16)
            }
            try repo.write("blobs/b\(f).bin", bytes)
        }
        let a = try repo.commit("A")
        let p = try PackScenario(repo: repo)
        let args = [
            "sync", p.s.slug, "--transport", "pack", "--limit-rate", "256K", "--git-url", p.git.baseURL,
            "--store", p.s.store, "--state-dir", p.s.stateDir, "--target", p.s.target, "--json",
        ]
        let process = try ProcessRunner(
            try SmartSyncBinary.path(), args, environment: p.s.environment().compactMapValues { $0 }
        ).start()
        // Kill once about half the pack is in the spool.
        let tmp = p.s.store + "/tmp"
        let deadline = Date().addingTimeInterval(60)
        var spooled = 0
        while Date() < deadline {
            let spools = (try? FileManager.default.contentsOfDirectory(atPath: tmp))?.filter { $0.hasPrefix("pack-") }
            spooled =
                spools?.compactMap {
                    (try? FileManager.default.attributesOfItem(atPath: tmp + "/" + $0))?[.size] as? Int
                }.max() ?? 0
            if spooled > 1_000_000 { break }
            usleep(50_000)
        }
        process.signal(SIGKILL)
        process.wait()
        try #require(spooled > 1_000_000, "the pack never reached 1 MB in the spool")
        #expect(!FileManager.default.fileExists(atPath: p.s.target + "/blobs"), "the target was touched")

        let summary = try p.sync(["--transport", "pack"])
        try p.s.expectTargetEqualsArchive(a)
        // The rerun imported what the killed run left, and asked only for the rest.
        let objects = requests(summary)["packObjects"] as? Int ?? 0
        #expect(objects > 0 && objects < 40, "the rerun received \(objects) objects of 42")
        let leftovers = (try FileManager.default.contentsOfDirectory(atPath: tmp)).filter { $0.hasPrefix("pack-") }
        #expect(leftovers.isEmpty, "spools left behind: \(leftovers)")
    }

    /// A repository whose pack is mostly incompressible bytes: a flipped byte lands in a zlib stream's data.
    private func noisyRepository(files: Int, size: Int) throws -> (GitFixture, String) {
        let repo = try GitFixture()
        var x: UInt32 = 7
        for f in 0..<files {
            var bytes = [UInt8](repeating: 0, count: size)
            for i in bytes.indices {
                x = x &* 1_103_515_245 &+ 12345
                bytes[i] = UInt8(truncatingIfNeeded: x >> 16)
            }
            try repo.write("data/f\(f).bin", bytes)
        }
        return (repo, try repo.commit("noise"))
    }

    /// The first two POSTs to the test server's git listener: ls-refs (too short to be hit), then the fetch.
    private static let corruptPack =
        #"[{"match": {"listener": "git", "method": "POST"}, "times": 2, "action": {"corrupt_byte_at": 6000}}]"#

    @Test func corruptPackIsRefusedAndTheTargetUntouched() throws {
        let (repo, _) = try noisyRepository(files: 4, size: 8192)
        let s = try Scenario(repo: repo)
        try s.server.setFaults(Self.corruptPack)
        let r = try s.run("sync", ["--transport", "pack", "--retries", "0"])
        #expect(r.status != 0)
        #expect(r.stderrString.contains("pack"), "\(r.stderrString)")
        #expect(r.stderrString.contains("zlib") || r.stderrString.contains("hash"), "\(r.stderrString)")
        #expect(!FileManager.default.fileExists(atPath: s.target + "/data"), "the target was touched")
        // What the store holds is only objects whose content hashes to their name (any kind).
        let objects = s.store + "/objects"
        for dir in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + dir)
            where !name.hasSuffix(".x") {
                let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: objects + "/" + dir + "/" + name)))
                let ids = [ObjectKind.blob, .tree, .commit, .tag].map { ObjectID.hash($0, bytes).hex }
                #expect(ids.contains(dir + name), "objects/\(dir)/\(name) does not hash to its name")
            }
        }
    }

    @Test func autoRecoversFromACorruptPackThroughRawDownloads() throws {
        let (repo, commit) = try noisyRepository(files: 4, size: 8192)
        let s = try Scenario(repo: repo)
        try s.server.setFaults(Self.corruptPack)
        let summary = try s.sync(["--transport", "auto", "--retries", "0"])
        try s.expectTargetEqualsArchive(commit)
        #expect(summary["transport"] as? String == "raw")
        let reason = try #require(summary["fallbackReason"] as? String)
        #expect(reason.contains("pack"), "\(reason)")
    }

    /// A repository with one small text file and one 300 KB incompressible blob.
    private func repositoryWithALargeBlob() throws -> (GitFixture, String) {
        let repo = try GitFixture()
        try repo.write("small.txt", "small\n")
        var big = [UInt8](repeating: 0, count: 300_000)
        var x: UInt32 = 12345
        for i in big.indices {
            x = x &* 1_103_515_245 &+ 12345
            big[i] = UInt8(truncatingIfNeeded: x >> 16)
        }
        try repo.write("images/disk.img", big)
        return (repo, try repo.commit("A"))
    }

    @Test func syncAfterPlanStillSendsLargeBlobsPerRequest() throws {
        let (repo, a) = try repositoryWithALargeBlob()
        let p = try PackScenario(repo: repo)
        let plan = try p.run("plan", ["--transport", "auto", "--pack-blob-limit", "64K"])
        #expect(plan.status == 3, "\(plan.stderrString)")
        // The plan stored the commit and trees; the sync asks for the commit's pack (filtered) and the large blob raw.
        let summary = try p.sync(["--transport", "auto", "--pack-blob-limit", "64K"])
        try p.s.expectTargetEqualsArchive(a)
        #expect(summary["transport"] as? String == "pack+raw")
        let raw = try p.s.rawRequests()
        #expect(raw.count == 1 && raw.first?.path.hasSuffix("/images/disk.img") == true, "\(raw.map(\.path))")
    }

    @Test func planOnAHostWithoutFiltersListsThroughTheAPI() throws {
        let (repo, a) = try repositoryWithALargeBlob()
        let s = try Scenario(repo: repo)
        let git = try GitHTTPServer(
            repositories: [s.slug: s.repo.gitDir], gitConfig: [("uploadpack.allowFilter", "false")])
        defer { git.stop() }
        let plan = try s.run("plan", ["--transport", "auto", "--git-url", git.baseURL, "--json"])
        #expect(plan.status == 3, "\(plan.stderrString)")
        // No content was downloaded: the listing came from the REST API.
        let blob = try repo.git("rev-parse", "\(a):images/disk.img")
        #expect(
            !FileManager.default.fileExists(atPath: s.store + "/objects/" + blob.prefix(2) + "/" + blob.dropFirst(2)))
        #expect(try !s.apiRequests().isEmpty)
        #expect(try s.rawRequests().isEmpty)
    }
}
