import Foundation
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The scan runs while the ref is resolved and listed, and blobs are fetched after it: a file edited or created at a
/// path the plan writes in that time must be kept or refused, never replaced unseen. The source here edits the target
/// from inside `fetch`, after the scan has looked.
@Suite("a target changed while the sync runs")
struct ChangedDuringSyncTests {
    /// A local repository as the source, running `during` once when it is asked for blobs.
    struct EditingSource: SyncSource {
        let base: LocalGitSource
        let during: @Sendable () throws -> Void
        var displayName: String { base.displayName }
        var transport: String { base.transport }
        var statistics: SourceStatistics { base.statistics }
        func resolve(_ ref: String?) async throws -> ResolvedRef { try await base.resolve(ref) }
        func listing(for ref: ResolvedRef) async throws -> TreeListing { try await base.listing(for: ref) }
        func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
            async throws -> FetchReport
        {
            try during()
            return try await base.fetch(blobs, of: ref, into: store, progress: progress)
        }
        func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
            try await base.isAncestor(ancestor, of: descendant)
        }
        func close() {}
    }

    static let modes: [(SyncRunner.ApplyMode, Int)] = [(.stagedSwitch, 3), (.stagedSwitch, 0), (.inPlace, 3)]

    /// A target in a temporary directory synced from `repo` to each of `commits` in turn, by a runner applying as
    /// `mode` says (apply mode, generations kept); ``runner(during:)`` makes the run whose source edits the target.
    struct Synced {
        let dirs: TemporaryDirectory
        let target: String
        /// The runner that made the syncs: the next run after the edit, with a plain source.
        let first: SyncRunner
        let local: LocalGitSource

        init(_ repo: GitFixture, to commits: [String], mode: (SyncRunner.ApplyMode, Int), prefix: String)
            async throws
        {
            dirs = try TemporaryDirectory(prefix: prefix)
            target = dirs.appending("target")
            local = try await LocalGitSource(path: repo.path)
            var first = SyncRunner(
                source: local, store: try ObjectStore(root: dirs.appending("store")),
                state: try StateStore(root: dirs.appending("state")))
            (first.applyMode, first.keepGenerations) = mode
            for commit in commits { _ = try await first.sync(.init(ref: commit, target: target)) }
            self.first = first
        }

        /// A runner as ``first`` whose source runs `during` when it is asked for blobs (after the scan).
        func runner(during: @escaping @Sendable () throws -> Void) -> SyncRunner {
            var runner = SyncRunner(
                source: EditingSource(base: local, during: during), store: first.store, state: first.state)
            (runner.applyMode, runner.keepGenerations) = (first.applyMode, first.keepGenerations)
            return runner
        }
    }

    @Test(arguments: 0..<3)
    func anEditMadeAfterTheScanIsKeptNotReplaced(mode: Int) async throws {
        let repo = try GitFixture()
        let a = try repo.commit("A", writing: ["conf/edited.nix": "a\n", "conf/other.nix": "other\n"])
        let b = try repo.commit("B", writing: ["conf/edited.nix": "b\n", "conf/added.nix": "added\n"])
        let s = try await Synced(repo, to: [a], mode: Self.modes[mode], prefix: "changed-during")
        let (target, first, state) = (s.target, s.first, s.first.state)

        // After the scan: vim's save (a new file renamed over the old one) and a file created where B adds one.
        let runner = s.runner {
            try Data("the operator's\n".utf8).write(
                to: URL(fileURLWithPath: target + "/conf/edited.nix"), options: .atomic)
            try Data("mine\n".utf8).write(to: URL(fileURLWithPath: target + "/conf/added.nix"))
        }
        let error = await #expect(throws: SmartSyncError.self) { try await runner.sync(.init(ref: b, target: target)) }
        #expect(error?.code == .conflict, "\(String(describing: error))")
        #expect(error?.message.contains("conf/edited.nix") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("conf/added.nix") == true, "\(error?.message ?? "")")
        #expect(try String(contentsOfFile: target + "/conf/edited.nix", encoding: .utf8) == "the operator's\n")
        #expect(try String(contentsOfFile: target + "/conf/added.nix", encoding: .utf8) == "mine\n")
        #expect(try state.load(target: target)?.commit == ObjectID(hex: a))

        // The next run sees both: the edit is kept as a local version, and the file that is not ours blocks B.
        try FileManager.default.removeItem(atPath: target + "/conf/added.nix")
        let outcome = try await first.sync(.init(ref: b, target: target))
        #expect(outcome.kept.map(\.path) == ["conf/edited.nix"])
        #expect(try String(contentsOfFile: target + "/conf/edited.nix", encoding: .utf8) == "b\n")
    }
}
