import Foundation
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

@Suite("apply intent (interrupted in-place applies)")
struct IntentTests {
    @Test func filesAnInterruptedApplyPutThereAreStillOurs() async throws {
        let repo = try GitFixture()
        try repo.write("keep.txt", "keep\n")
        let a = try repo.commit("A")
        try repo.write("only-in-b.txt", "b\n")
        let b = try repo.commit("B")
        try repo.remove("only-in-b.txt")
        try repo.write("keep.txt", "keep, C\n")
        let c = try repo.commit("C")
        let dirs = try TemporaryDirectory(prefix: "intent")
        let target = dirs.appending("target")
        var runner = SyncRunner(
            source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: dirs.appending("store")),
            state: try StateStore(root: dirs.appending("state")))
        runner.applyMode = .inPlace
        _ = try await runner.sync(.init(ref: a, target: target))

        // A run to B announced its intent, put one new file in place, and was killed.
        let listingB = try await LocalGitSource(path: repo.path).listing(
            for: ResolvedRef(name: b, commit: ObjectID(hex: b)!))
        try runner.state.saveIntent(
            TargetState(
                target: target, commit: listingB.commit, ref: b, appliedAtNs: 0, manifest: Manifest(listing: listingB)))
        try Data("b\n".utf8).write(to: URL(fileURLWithPath: target + "/only-in-b.txt"))
        chmod(target + "/only-in-b.txt", 0o444)  // as an apply installs it

        // The next run goes to C, which does not have that file: it is removed, not left behind as untracked.
        let outcome = try await runner.sync(.init(ref: c, target: target))
        #expect(outcome.plan.count(.delete) == 1)
        #expect(!FileManager.default.fileExists(atPath: target + "/only-in-b.txt"))
        #expect(try String(contentsOfFile: target + "/keep.txt", encoding: .utf8) == "keep, C\n")
        #expect(try runner.state.loadIntent(target: target) == nil)
    }
}
