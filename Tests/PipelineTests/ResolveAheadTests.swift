import Foundation
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The ref is asked ahead, beside the run's local steps, except where the answer is the shallow clone's whole
/// `git fetch` (a child process the run cannot cancel): also when the run reaches the clone by a failover in the
/// middle of that call, not only when it starts there (`--force-full`).
@Suite("no git fetch asked ahead", .serialized)
struct ResolveAheadTests {
    /// The REST API in an outage: its connection breaks off, once the run has given up waiting for it (`breaksOff`:
    /// when the run cancels the call) or at once.
    struct BrokenAPI: SyncSource {
        let breaksOffWhenCancelled: Bool
        var displayName: String { "github:octo/demo" }
        var transport: String { "raw" }
        var statistics: SourceStatistics { SourceStatistics() }
        func resolve(_ ref: String?) async throws -> ResolvedRef {
            if breaksOffWhenCancelled { try? await Task.sleep(for: .seconds(30)) }
            throw SourceFailure(.unreachable, SmartSyncError(.network, "the API connection broke off"))
        }
        func listing(for ref: ResolvedRef) async throws -> TreeListing {
            throw SourceFailure(.unreachable, SmartSyncError(.network, "the API connection broke off"))
        }
        func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
            async throws -> FetchReport
        {
            throw SourceFailure(.unreachable, SmartSyncError(.network, "the API connection broke off"))
        }
        func close() {}
    }

    /// A bare repository of one commit served by a fake GitHub, and a store, a state and a target directory; stopped
    /// and removed when the test lets go of it.
    final class Fixture {
        let repo: GitFixture
        let commit: String
        let server: FakeGitHub
        let dirs: TemporaryDirectory
        let store: ObjectStore
        let state: StateStore
        let target: String

        init() throws {
            repo = try GitFixture(bare: true)
            try repo.write("README.md", "# demo\n")
            commit = try repo.commit("first")
            server = try FakeGitHub(repos: ["octo/demo": repo.path])
            dirs = try TemporaryDirectory(prefix: "resolve-ahead")
            store = try ObjectStore(root: dirs.appending("store"))
            state = try StateStore(root: dirs.appending("state"))
            target = StateStore.normalize(dirs.appending("target"))
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        }

        deinit {
            server.stop()
            dirs.remove()
        }
    }

    /// A run that fails before it needs the ref (its state cannot be read) while its early request fails over from
    /// the API to the clone: the git host sees no request. The same setup with a run that goes on does reach the git
    /// host through the clone, so the count could fail.
    @Test func aFailoverToTheCloneDuringTheEarlyRequestFetchesNothing() async throws {
        let f = try Fixture()
        let (server, store, state, target) = (f.server, f.store, f.state, f.target)
        func runner(breaksOffWhenCancelled: Bool) -> SyncRunner {
            let clone = ShallowCloneSource(
                gitURL: server.gitURL, owner: "octo", repository: "demo", token: nil,
                temporaryDirectory: store.temporaryDirectory)
            let source = FailoverSource(
                [BrokenAPI(breaksOffWhenCancelled: breaksOffWhenCancelled), clone],
                policy: .apiOutage(clone: clone.remoteURL))
            return SyncRunner(source: source, store: store, state: state)
        }
        func gitRequests() throws -> Int { try server.requests().filter { $0.listener == "git" }.count }

        // The state file is a directory: the run fails reading it, after the early request went out and before it
        // awaits the answer; leaving the run cancels that request, and the API breaks off then.
        try FileManager.default.createDirectory(atPath: state.statePath(for: target), withIntermediateDirectories: true)
        await #expect(throws: SmartSyncError.self) {
            try await runner(breaksOffWhenCancelled: true).sync(.init(ref: "main", target: target))
        }
        #expect(try gitRequests() == 0, "the clone fetched ahead of a run that could not go on")

        try FileManager.default.removeItem(atPath: state.statePath(for: target))
        let outcome = try await runner(breaksOffWhenCancelled: false).sync(.init(ref: "main", target: target))
        #expect(outcome.resolved.commit.hex == f.commit)
        #expect(try gitRequests() > 0)
        #expect(FileManager.default.fileExists(atPath: target + "/README.md"))
    }

    /// `--force-full`: the clone's notice is said by the run's own resolve through it, not by the early request, which
    /// a run that fails before it needs the ref (its state cannot be read) never uses. Before, that run said it.
    @Test func theForcedCloneIsAnnouncedWhereTheRunUsesIt() async throws {
        let f = try Fixture()
        let (server, store, state, target) = (f.server, f.store, f.state, f.target)
        let notices = Locked<[String]>([])
        func runner() -> SyncRunner {
            let clone = ShallowCloneSource(
                gitURL: server.gitURL, owner: "octo", repository: "demo", token: nil,
                temporaryDirectory: store.temporaryDirectory)
            let source = FailoverSource(
                [clone], policy: .apiOutage(clone: clone.remoteURL), forcedReason: "--force-full was given",
                notice: { message in notices.withLock { $0.append(message) } })
            return SyncRunner(source: source, store: store, state: state)
        }

        try FileManager.default.createDirectory(atPath: state.statePath(for: target), withIntermediateDirectories: true)
        await #expect(throws: SmartSyncError.self) { try await runner().sync(.init(ref: "main", target: target)) }
        #expect(notices.withLock { $0 }.isEmpty, "announced by a run that never used the clone")

        try FileManager.default.removeItem(atPath: state.statePath(for: target))
        _ = try await runner().sync(.init(ref: "main", target: target))
        let said = notices.withLock { $0 }
        #expect(said.count == 1 && said.first?.contains("--force-full was given") == true, "\(said)")
    }
}
