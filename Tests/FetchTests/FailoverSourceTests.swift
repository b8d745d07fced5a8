import Foundation
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncCore
import SmartSyncFetch
import Testing
import TestSupport
import SmartSyncTransfer

/// ``FailoverSource`` over real sources: GitHub's API and git host as served by the test server (with faults), and
/// the demo repository read by a ``LocalGitSource`` as the last resort.
@Suite(.serialized)
struct FailoverSourceTests {
    /// The demo server (its members read through: `s.server`, `s.store`), an engine for it, and the notices. The
    /// engine's thread is shut down when the test lets go of the setup.
    @dynamicMemberLookup
    final class Setup: Sendable {
        let served: DemoServer
        let engine: TransferEngine
        let notices = Locked<[String]>([])

        subscript<T>(dynamicMember member: KeyPath<DemoServer, T>) -> T { served[keyPath: member] }

        init(token: String? = nil) throws {
            // The same repository under two names: a second GitHub source whose requests the log tells apart.
            served = try DemoServer(
                prefix: "failover", aliases: ["octo/second"], privateRepos: token != nil, token: token)
            let server = served.server
            var configuration = TransferConfiguration()
            configuration.credentialHosts = GitHubLocation(owner: "octo", repository: "demo", apiURL: server.apiURL)
                .credentialHosts(gitURL: server.gitURL)
            engine = try TransferEngine(configuration: configuration)
        }

        deinit { engine.shutdown() }

        func api(_ repository: String = "demo", apiURL: String? = nil, token: String? = nil) -> GitHubSource {
            GitHubSource(
                location: GitHubLocation(
                    owner: "octo", repository: repository, apiURL: apiURL ?? served.server.apiURL,
                    rawURL: served.server.rawURL),
                engine: engine, token: token.map { GitHubToken($0, origin: "test") },
                cache: ValidatorCache(directory: nil), retryPolicy: RetryPolicy(retries: 0))
        }

        func local() async throws -> LocalGitSource { try await LocalGitSource(path: served.demo.repo.path) }

        func failover(_ sources: [any SyncSource], policy: FailoverPolicy) -> FailoverSource {
            let notices = notices
            return FailoverSource(sources, policy: policy) { message in notices.withLock { $0.append(message) } }
        }

        /// Requests the test server saw for `octo/<name>` (API and raw paths name it).
        func requests(to name: String) throws -> Int {
            try served.server.requests().filter { $0.path.contains("/octo/\(name)/") }.count
        }
    }

    static let policy = FailoverPolicy.apiOutage(clone: "local")

    /// An outage moves the call on, once announced; later calls go straight to the next source (the API is not asked
    /// again, though it has recovered), and the counters hold both sources' requests.
    @Test func anOutageMovesOnAndTheSwitchIsKept() async throws {
        let s = try Setup()
        try s.server.setFaults(#"[{"match": {"listener": "api"}, "action": {"status": 503}}]"#)
        let source = s.failover([s.api(), try await s.local()], policy: Self.policy)
        defer { source.close() }
        #expect(source.transport == "raw" && source.fallbackReason == nil)
        let ref = try await source.resolve("main")
        #expect(ref.commit.hex == s.demo.second)
        #expect(source.transport == "local")
        #expect(source.fallbackReason?.hasPrefix("the API answered HTTP 503") == true, "\(source.fallbackReason ?? "")")
        #expect(s.notices.withLock { $0 } == ["falling back to a shallow clone of local: " + source.fallbackReason!])
        let failedRequests = source.statistics.apiRequests
        #expect(failedRequests > 0)

        try s.server.clearFaults()
        let asked = try s.requests(to: "demo")
        let listing = try await source.listing(for: ref)
        try listing.verify()
        _ = try await source.resolve("feature/x")
        #expect(try s.requests(to: "demo") == asked)
        #expect(s.notices.withLock { $0.count } == 1)
        #expect(source.statistics.apiRequests == failedRequests)
    }

    /// A missing ref and a rejected token are answers: they surface, and the next source (which would succeed) is
    /// never asked.
    @Test func answersSurfaceWithoutTryingTheNextSource() async throws {
        let s = try Setup(token: "right-token")
        let source = s.failover(
            [s.api(token: "right-token"), s.api("second", token: "right-token")], policy: Self.policy)
        await #expect { try await source.resolve("no-such-branch") } throws: {
            ($0 as? SmartSyncError)?.code == .notFound
        }
        let badToken = s.failover(
            [s.api(token: "wrong-token"), s.api("second", token: "right-token")], policy: Self.policy)
        await #expect { try await badToken.resolve("main") } throws: { ($0 as? SmartSyncError)?.code == .unauthorized }
        #expect(try s.requests(to: "second") == 0)
        #expect(source.fallbackReason == nil && badToken.fallbackReason == nil)
        #expect(s.notices.withLock { $0 }.isEmpty)
        // The check is not vacuous: the second source serves this ref.
        #expect(try await s.api("second", token: "right-token").resolve("main").commit.hex == s.demo.second)
    }

    /// Sources are tried in order: an unreachable one, one that fails with a 5xx, then one that works. The reason
    /// kept is the first switch's.
    @Test func anOrderedListIsTriedInTurn() async throws {
        let s = try Setup()
        try s.server.setFaults(
            #"[{"match": {"listener": "api", "path_regex": "/octo/second/"}, "action": {"status": 500}}]"#)
        let source = s.failover(
            [s.api(apiURL: "http://127.0.0.1:1"), s.api("second"), try await s.local()], policy: Self.policy)
        defer { source.close() }
        #expect(try await source.resolve("v1.0").commit.hex == s.demo.first)
        #expect(source.transport == "local")
        #expect(source.fallbackReason?.hasPrefix("the API could not be reached") == true)
        let second = try s.server.requests().filter { $0.path.contains("/octo/second/") }
        #expect(!second.isEmpty && second.allSatisfy { $0.status == 500 })
        #expect(s.notices.withLock { $0.count } == 1)
    }

    /// The last source's failure after a switch surfaces as the policy combines it with the switch's cause.
    @Test func whenTheLastSourceFailsTooBothAreSaid() async throws {
        let s = try Setup()
        try s.server.setFaults(#"[{"match": {"listener": "api"}, "action": {"status": 500}}]"#)
        let source = s.failover([s.api(), s.api(apiURL: "http://127.0.0.1:1")], policy: Self.policy)
        do {
            _ = try await source.resolve("main")
            Issue.record("resolved with both sources down")
        } catch let error as SmartSyncError {
            #expect(error.code == .http && error.httpStatus == nil, "\(error)")
            #expect(error.message.contains("HTTP 500") && error.message.contains("failed too"), "\(error.text)")
        }
    }

    /// `--transport auto`'s shape: a failure of the pack path moves on, but a failure of the per-blob path inside the
    /// pack source (a short SHA only the API can expand) surfaces, though the same failure from the pack path would
    /// move on.
    @Test func aFailureOfThePerBlobPathInsideThePackSourceSurfaces() async throws {
        let s = try Setup()
        let pack = GitPackSource(
            repositoryURL: s.server.gitURL("octo/demo"), engine: s.engine, token: nil, store: s.store, raw: s.api(),
            cacheDirectory: nil, retryPolicy: RetryPolicy(retries: 0))
        let source = s.failover([pack, try await s.local()], policy: .packTransport)
        defer { source.close() }
        try s.server.setFaults(#"[{"match": {"listener": "api"}, "action": {"status": 503}}]"#)
        let short = String(s.demo.first.prefix(10))
        await #expect { try await pack.resolve(short) } throws: {
            ($0 as? SourceFailure)?.reason == .delegated && ($0 as? SourceFailure)?.error.httpStatus == 503
        }
        await #expect { try await source.resolve(short) } throws: { ($0 as? SmartSyncError)?.httpStatus == 503 }
        #expect(source.fallbackReason == nil && source.transport == "pack+raw")

        // The git host failing moves the run on.
        try s.server.setFaults(#"[{"match": {"listener": "git"}, "action": {"status": 503}}]"#)
        #expect(try await source.resolve("main").commit.hex == s.demo.second)
        #expect(source.transport == "local")
        #expect(source.fallbackReason?.hasPrefix("the pack transport failed") == true)
        #expect(s.notices.withLock { $0 } == ["using per-blob downloads: " + source.fallbackReason!])
    }
}
