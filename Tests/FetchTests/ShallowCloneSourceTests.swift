import Foundation
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncGitProtocol
import SmartSyncObjectStore
import TestSupport
import Testing

@Suite(.serialized)
struct ShallowCloneSourceTests {
    /// The test server plus a store, and a clone source over them.
    /// The members of the demo server read through (`s.server`, `s.store`).
    @dynamicMemberLookup
    struct Setup {
        let served: DemoServer

        subscript<T>(dynamicMember member: KeyPath<DemoServer, T>) -> T { served[keyPath: member] }

        init(privateRepo: Bool = false, token: String? = nil) throws {
            served = try DemoServer(prefix: "clone-source", privateRepos: privateRepo, token: token)
        }

        func source(token: String? = nil, gitURL: String? = nil) -> ShallowCloneSource {
            ShallowCloneSource(
                gitURL: gitURL ?? served.server.gitURL, owner: "octo", repository: "demo",
                token: token.map { GitHubToken($0, origin: "test") },
                temporaryDirectory: served.store.temporaryDirectory)
        }

        func clones() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: served.store.temporaryDirectory)) ?? [])
                .filter { $0.hasPrefix("clone-") }
        }
    }

    @Test func resolvesEveryRefKindGitHubAllowsOverTheWire() async throws {
        let s = try Setup()
        let source = s.source()
        defer { source.close() }
        #expect(source.transport == "clone")
        #expect(source.remoteURL == s.server.gitURL + "/octo/demo.git")
        #expect(try await source.resolve(nil).commit.hex == s.demo.second)
        #expect(try await source.resolve("main").commit.hex == s.demo.second)
        #expect(try await source.resolve("feature/x").commit.hex == s.demo.feature)
        let tag = try await source.resolve("v1.0")  // annotated: peeled to the commit
        #expect(tag.commit.hex == s.demo.first)
        #expect(tag.rootTree?.hex == (try s.demo.repo.revParse("\(s.demo.first)^{tree}")))
        #expect(try await source.resolve("refs/tags/light").commit.hex == s.demo.first)
        #expect(try await source.resolve(s.demo.first).commit.hex == s.demo.first)
        #expect(source.statistics.bytesReceived > 0)
        #expect(source.statistics.apiRequests == 0)
    }

    @Test func explainsWhatTheFallbackCannotResolve() async throws {
        let s = try Setup()
        let source = s.source()
        defer { source.close() }
        await #expect(throws: SmartSyncError.self) { try await source.resolve("nope") }
        do {
            _ = try await source.resolve(String(s.demo.first.prefix(8)))
            Issue.record("a short SHA resolved")
        } catch let error as SmartSyncError {
            #expect(error.code == .notFound)
            #expect(error.hint?.contains("full 40-character commit SHA") == true, "\(error.text)")
        }
        for bad in ["-x", "a:b", "+main", "a..b", "a b"] {
            do {
                _ = try await source.resolve(bad)
                Issue.record("'\(bad)' was accepted")
            } catch let error as SmartSyncError {
                #expect(error.code == .invalidArgument)
            }
        }
        do {
            _ = try await s.source(gitURL: "http://127.0.0.1:1").resolve("main")
            Issue.record("an unreachable host worked")
        } catch let error as SmartSyncError {
            #expect(error.code == .network, "\(error)")
            #expect(error.message.contains("http://127.0.0.1:1/octo/demo.git"))
        }
    }

    /// Git's stderr carries the server's text (an `ERR` packet's, `remote:` lines): `GitRemote` quotes it escaped and
    /// cut (`ProcessResult.errorExcerpt`). Git's own `die` turns ESC into `?`; a C1 CSI and a right-to-left override
    /// went through to the operator's terminal, with all of a long text.
    @Test func gitRemoteQuotesAServersERRTextEscapedAndCut() async throws {
        let s = try Setup()
        let source = s.source()
        defer { source.close() }
        let hostile = "\u{1B}[2J\u{9B}31m\u{202E}" + String(repeating: "z", count: 3000)
        let body = String(
            decoding: PktLine.encode("# service=git-upload-pack\n") + PktLine.flush
                + PktLine.encode("ERR " + hostile + "\n"),
            as: UTF8.self)
        let rule: [String: Any] = [
            "match": ["listener": "git", "path_regex": "info/refs"],
            "action": [
                "status": 200, "body": body,
                "headers": ["Content-Type": "application/x-git-upload-pack-advertisement"],
            ],
        ]
        try s.server.setFaults(String(decoding: try JSONSerialization.data(withJSONObject: [rule]), as: UTF8.self))
        let error = await #expect(throws: SmartSyncError.self) { try await source.resolve("main") }
        let message = error?.message ?? ""
        #expect(message.contains("\\xc2\\x9b31m\\xe2\\x80\\xae"), "\(message)")
        #expect(message.contains("bytes more)"), "\(message)")
        #expect(!message.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, "\(message)")
        #expect(!message.unicodeScalars.contains("\u{202E}"), "\(message)")
    }

    @Test func listsVerifiesAndImportsBlobsThenCleansUp() async throws {
        let s = try Setup()
        let source = s.source()
        let ref = try await source.resolve("main")
        #expect(s.clones().count == 1)
        let listing = try await source.listing(for: ref)
        try listing.validate()
        try listing.verify()
        let wants = listing.files.map { BlobWant(id: $0.id, path: $0.path, size: $0.size) }
        let report = try await source.fetch(wants, of: ref, into: s.store, progress: .none)
        #expect(report.blobsFetched == Set(wants.map(\.id)).count)
        #expect(wants.allSatisfy { s.store.contains($0.id) })
        let big = try #require(listing.files.first { $0.path == "data/big.bin" })
        #expect(try s.store.read(big.id) == s.demo.bigContent)
        source.close()
        #expect(s.clones().isEmpty)
    }

    @Test func fetchesACommitTheAPIResolvedBeforeItFailed() async throws {
        let s = try Setup()
        let source = s.source()
        defer { source.close() }
        // As if the API had resolved `first` (no root tree known) and then failed: the clone fetches it by SHA.
        let ref = ResolvedRef(name: "v1.0", commit: try #require(ObjectID(hex: s.demo.first)))
        let listing = try await source.listing(for: ref)
        try listing.verify()
        #expect(listing.rootTree.hex == (try s.demo.repo.revParse("\(s.demo.first)^{tree}")))
    }

    @Test func privateRepositoryWithTheTokenScopedToTheGitHost() async throws {
        let s = try Setup(privateRepo: true, token: "t0ken-value")
        do {
            _ = try await s.source().resolve("main")
            Issue.record("a private repository cloned without a token")
        } catch let error as SmartSyncError {
            #expect(error.code == .unauthorized, "\(error)")
            #expect(error.hint?.contains("GH_TOKEN") == true, "\(error.text)")
        }
        let source = s.source(token: "t0ken-value")
        defer { source.close() }
        #expect(try await source.resolve("main").commit.hex == s.demo.second)
        let git = try s.server.requests().filter { $0.listener == "git" && $0.status == 200 }
        #expect(!git.isEmpty && git.allSatisfy(\.hadAuthorization))
        do {
            _ = try await s.source(token: "wrong").resolve("main")
            Issue.record("a wrong token was accepted")
        } catch let error as SmartSyncError {
            #expect(error.code == .unauthorized)
            #expect(!error.message.contains("wrong"))
        }
        // The config file that carried the header is removed after each call, the failed one included.
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: s.store.temporaryDirectory)) ?? []
        #expect(!leftovers.contains { $0.hasPrefix("git-config-") }, "\(leftovers)")
    }

    @Test func onlyOutagesSwitchToTheClone() {
        let reason = { (code: SmartSyncError.Code, message: String, status: Int?) in
            FailoverPolicy.apiOutage(clone: "http://x/o/r.git").reason(
                for: SourceFailure(classifying: SmartSyncError(code, message, httpStatus: status)), in: .resolve)
        }
        #expect(reason(.http, "unexpected HTTP 500 from GET http://x/repos/o/r/commits/main for ref", 500) != nil)
        #expect(reason(.http, "unexpected HTTP 503 from GET x; try again later", 503)?.contains("HTTP 503") == true)
        #expect(reason(.http, "unexpected HTTP 403 from GET x", 403) == nil)
        // The status is a field: text that merely mentions a 5xx is not an outage.
        #expect(reason(.http, "unexpected HTTP 500 from GET x", nil) == nil)
        #expect(reason(.network, "could not connect to http://x", nil) != nil)
        #expect(reason(.rateLimited, "GitHub's API rate limit is exhausted", nil) != nil)
        for code: SmartSyncError.Code in [.notFound, .unauthorized, .integrity, .unsafePath, .malformedResponse] {
            #expect(reason(code, "HTTP 500", 500) == nil, "\(code)")
        }
    }

    /// The reason is the error's whole message, without its hint: a "; " inside the message joins two facts and is
    /// no hint to cut off (it was, when hints were carried in the message).
    @Test func theReasonIsTheMessageWithoutTheHint() throws {
        let error = SmartSyncError(
            .rateLimited, "GitHub's secondary rate limit refused ref 'main': HTTP 403 from GET x; it asks to wait 90 s",
            hint: "try again later, lower --jobs, or raise --max-wait")
        let policy = FailoverPolicy.apiOutage(clone: "http://x/o/r.git")
        let reason = try #require(policy.reason(for: SourceFailure(classifying: error), in: .resolve))
        #expect(reason.contains("it asks to wait 90 s"))
        #expect(!reason.contains("try again later"))
    }
}
