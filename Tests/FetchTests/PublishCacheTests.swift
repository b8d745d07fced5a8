import Foundation
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import TestSupport
import Testing

/// `publish OWNER/REPO`'s path: the cache repository under the store, fetched from a GitHub-shaped git host.
@Suite(.serialized)
struct PublishCacheTests {
    static let token = "ghp_PUBLISHCACHETOKEN"

    func cache(_ s: DemoServer, token: String?) -> PublishCache {
        PublishCache(
            storeDirectory: s.dir.appending("store"), gitURL: s.server.gitURL, owner: "octo", repository: "demo",
            token: token.map { GitHubToken($0, origin: "test") })
    }

    @Test func publishesFromAPrivateRepositoryWithTheTokenOnlyInGitsRequests() async throws {
        let s = try DemoServer(prefix: "publish-cache", privateRepos: true, token: Self.token)
        let mirror = s.dir.appending("mirror")
        let cache = cache(s, token: Self.token)
        #expect(cache.repository.hasPrefix(s.dir.appending("store") + "/publish/octo+demo-"))
        let report = try await MirrorPublisher(directory: mirror).publish(
            cache: cache, options: .init(refs: ["main", "v1.0", "feature/x", s.demo.first]))
        #expect(report.pointer.repository == "octo/demo")
        #expect(
            report.pointer.refs.map { "\($0.name)=\($0.commit.hex)" } == [
                "main=\(s.demo.second)", "v1.0=\(s.demo.first)", "feature/x=\(s.demo.feature)",
                "\(s.demo.first)=\(s.demo.first)",
            ])
        // The same files a local publish writes, from the cache.
        for commit in [s.demo.first, s.demo.second, s.demo.feature] {
            #expect(TestFiles.exists(mirror + "/packs/\(commit).pack"))
            let body = try #require(TestFiles.readBytes(mirror + "/commits/" + PublishTests.split(commit)))
            #expect(ObjectID.hash(.commit, body).hex == commit)
        }
        let git = try s.server.requests().filter { $0.listener == "git" }
        #expect(!git.isEmpty && git.allSatisfy(\.hadAuthorization))
        let firstPack = git.filter { $0.path.hasSuffix("/git-upload-pack") }.map(\.bytes).max() ?? 0
        // The token is in no file of the cache (config, FETCH_HEAD, logs).
        for path in TestFiles.allPaths(under: cache.repository) {
            let bytes = TestFiles.readBytes(cache.repository + "/" + path) ?? []
            #expect(!String(decoding: bytes, as: UTF8.self).contains(Self.token), "\(path)")
        }

        // A new commit: the next publish fetches into the same cache and adds only the new files.
        try s.demo.repo.write("README.md", "# demo, third\n")
        let third = try s.demo.repo.commit("third")
        try s.server.clearLog()
        let again = try await MirrorPublisher(directory: mirror).publish(cache: cache, options: .init(refs: ["main"]))
        #expect(again.pointer.refs.first?.commit.hex == third)
        #expect(again.commitsWritten == 1 && again.objectsWritten == 1 && again.packsWritten == 1)
        // What came is what is new: a smaller pack than the first (the cache says `have` for what it holds).
        let secondPack =
            try s.server.requests().filter { $0.path.hasSuffix("/git-upload-pack") }.map(\.bytes).max() ?? 0
        #expect(secondPack > 0 && secondPack < firstPack, "\(secondPack) ≥ \(firstPack)")
    }

    @Test func refusesWhatTheRemoteLacksAndAMissingToken() async throws {
        let s = try DemoServer(prefix: "publish-cache", privateRepos: true, token: Self.token)
        let mirror = s.dir.appending("mirror")
        do {
            _ = try await MirrorPublisher(directory: mirror).publish(
                cache: cache(s, token: Self.token), options: .init(refs: ["main", "nope"]))
            Issue.record("a missing ref was published")
        } catch let error as SmartSyncError {
            #expect(error.code == .notFound)
            #expect(error.message.contains("'nope'"), "\(error)")
        }
        do {
            _ = try await MirrorPublisher(directory: mirror).publish(
                cache: cache(s, token: nil), options: .init(refs: ["main"]))
            Issue.record("a private repository was published without a token")
        } catch let error as SmartSyncError {
            #expect(error.code == .unauthorized, "\(error)")
        }
        #expect(!TestFiles.exists(mirror + "/refs"))
    }
}
