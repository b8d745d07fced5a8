import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// The pack transport's ancestry answers (``GitPackSource/isAncestor(_:of:)``) download a history once a run: the
/// commits of a history pack are held in memory once verified, and later walks read them there first.
@Suite(.serialized)
struct HistoryWalkRequestsTests {
    /// `warm --pin` asks up to 16 questions about one commit. Each walk held its history in a batch of its own and
    /// dropped it, so every question downloaded the history again (and charged it to `--max-download` again).
    @Test func repeatedAncestryQuestionsDownloadTheHistoryOnce() async throws {
        let repo = try GitFixture()
        var chain: [ObjectID] = []
        for i in 0..<5 {
            try repo.write("f.txt", "\(i)\n")
            chain.append(try #require(ObjectID(hex: try repo.commit("c\(i)"))))
        }
        let (root, middle, head) = (chain[0], chain[2], chain[4])
        let stranger = try #require(ObjectID(hex: String(repeating: "5a", count: 20)))
        let github = try FakeGitHub(repos: ["acme/walk": repo.path])
        let dirs = try TemporaryDirectory(prefix: "history-walk")
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let source = GitPackSource(
            repositoryURL: github.gitURL("acme/walk"), engine: engine, token: nil,
            store: try ObjectStore(root: dirs.appending("store")), raw: nil, cacheDirectory: nil,
            retryPolicy: RetryPolicy(retries: 0))

        // The first question walks the whole history (to its root): the one download.
        #expect(try await source.isAncestor(stranger, of: head) == false)
        let fetches = { try github.requests().filter { $0.listener == "git" && $0.method == "POST" }.count }
        let first = try fetches()
        #expect(first >= 1)
        #expect(try await source.isAncestor(root, of: head) == true)
        #expect(try await source.isAncestor(middle, of: head) == true)
        #expect(try await source.isAncestor(head, of: middle) == false)
        #expect(try await source.isAncestor(stranger, of: head) == false)
        #expect(try fetches() == first, "a question about the same history downloaded it again")
    }

    /// A history pack that breaks off is dropped with its batch: the notice does not say that what arrived was kept.
    @Test func aBrokenHistoryPackIsNotSaidToBeKept() async throws {
        let repo = try GitFixture()
        for i in 0..<60 {
            try repo.write("f.txt", "\(i)\n")
            // Messages that do not compress: the pack outgrows the first side-band packet (64 KiB) the reset lets by.
            _ = try repo.commit((0..<100).map { _ in UUID().uuidString }.joined(separator: " "))
        }
        let head = try #require(ObjectID(hex: try repo.revParse("HEAD")))
        let github = try FakeGitHub(repos: ["acme/walk": repo.path])
        try github.setFaults(
            #"[{"match": {"listener": "git", "method": "POST", "body_contains": "command=fetch"}, "#
                + #""action": {"reset_after_bytes": 70000}}]"#)
        let dirs = try TemporaryDirectory(prefix: "history-walk")
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let notices = Locked<[String]>([])
        let source = GitPackSource(
            repositoryURL: github.gitURL("acme/walk"), engine: engine, token: nil,
            store: try ObjectStore(root: dirs.appending("store")), raw: nil, cacheDirectory: nil,
            retryPolicy: RetryPolicy(retries: 0), notice: { text in notices.withLock { $0.append(text) } })
        await #expect(throws: (any Error).self) {
            try await source.isAncestor(try #require(ObjectID(hex: String(repeating: "5a", count: 20))), of: head)
        }
        let said = notices.withLock { $0 }
        #expect(said.contains { $0.contains("the history of") && $0.contains("broke off") }, "\(said)")
        #expect(!said.contains { $0.contains("were kept") }, "\(said)")
    }
}
