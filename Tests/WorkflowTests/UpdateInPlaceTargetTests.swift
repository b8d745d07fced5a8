import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncValidation
import SmartSyncWorkflow
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A target the staged switch must apply in place (a symlink to the tree, a mount point) has no stage for `update`'s
/// checks. With stage checks set, `update` refuses it before anything is kept, recorded or changed; with none, it
/// applies the tree in place, as `sync` does.
@Suite(.serialized) struct UpdateInPlaceTargetTests {
    enum Shape: String, CaseIterable, CustomTestStringConvertible {
        case symlink, mountPoint
        var testDescription: String { rawValue }
    }

    /// Makes `f.target` of `shape` (a symlink to `real`, or a tmpfs mounted there) and returns the directory that
    /// holds the tree; nil (and says why) where that cannot be done here.
    private static func make(_ shape: Shape, _ f: UpdateFixture) throws -> String? {
        switch shape {
        case .symlink:
            let real = f.dirs.appending("real")
            mkdir(real, 0o755)
            guard symlink(real, f.target) == 0 else { throw SmartSyncError.io("symlink", path: f.target) }
            return real
        case .mountPoint:
            guard geteuid() == 0 else {
                print("skipped on this machine: mounting needs root")
                return nil
            }
            mkdir(f.target, 0o755)
            try ProcessRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", f.target])
            return f.target
        }
    }

    private static func unmount(_ shape: Shape, _ f: UpdateFixture) {
        if shape == .mountPoint { _ = try? ProcessRunner.run("/bin/umount", ["-l", f.target]) }
    }

    /// A runner on the fixture's source, store and state that collects its warnings.
    private static func runner(_ f: UpdateFixture, warnings: Locked<[String]>) -> SyncRunner {
        SyncRunner(source: f.runner.source, store: f.runner.store, state: f.runner.state) { event in
            if case .warning(let text) = event { warnings.withLock { $0.append(text) } }
        }
    }

    /// A fixture synced to its first commit whose target is of `shape` (the directory holding the tree passed to
    /// `body`), and a list of the warnings a run of ``runner(_:warnings:)`` collects; nothing where `shape` cannot be
    /// made here. A mount is undone after `body`.
    private static func withTarget(
        _ shape: Shape, _ body: (UpdateFixture, _ tree: String, _ warnings: Locked<[String]>) async throws -> Void
    ) async throws {
        let f = try await UpdateFixture()
        defer { unmount(shape, f) }
        guard let tree = try make(shape, f) else { return }
        try await f.sync(0)
        try await body(f, tree, Locked([]))
    }

    /// The refusal comes before the local edit of a file the commit changes is kept (no "kept" warning, no record of
    /// a version nothing replaced) and before the intent is written (an intent for a commit never applied, merged by
    /// the next run into its previous manifest): the state directory is as it was, the target untouched.
    @Test(arguments: Shape.allCases)
    func withStageChecksItIsRefusedBeforeAnythingIsKeptOrRecorded(shape: Shape) async throws {
        try await Self.withTarget(shape) { f, tree, warnings in
            try TestFiles.write(tree + "/conf.nix", "mine\n")
            let stateBefore = try DirectorySnapshot(of: f.dirs.appending("state"))
            var options = f.options(1)
            options.checks = UpdateChecks(checks: [FileCheck(path: "conf.nix")])

            let report = await UpdateWorkflow(runner: Self.runner(f, warnings: warnings)).run(options)
            let failure = try #require(report.failure)
            #expect(failure.code == .refused, "\(failure)")
            #expect(failure.message.contains("can only be applied in place"), "\(failure.message)")
            #expect(!report.switched)
            #expect(warnings.withLock { $0 }.isEmpty, "\(warnings.withLock { $0 })")
            #expect(try f.runner.state.loadIntent(target: f.target) == nil)
            let stateAfter = try DirectorySnapshot(of: f.dirs.appending("state"))
            #expect(stateAfter == stateBefore, "\(stateAfter.difference(from: stateBefore))")
            #expect(TestFiles.read(tree + "/conf.nix") == "mine\n")
            #expect(f.runs().isEmpty)
        }
    }

    /// `--check-only` says the update itself would be refused (the plan step warns, naming why), and changes nothing.
    @Test(arguments: Shape.allCases)
    func checkOnlySaysTheUpdateWouldBeRefused(shape: Shape) async throws {
        try await Self.withTarget(shape) { f, tree, warnings in
            var options = f.options(1)
            options.checks = UpdateChecks(checks: [FileCheck(path: "conf.nix")])
            options.checkOnly = true
            let report = await UpdateWorkflow(runner: Self.runner(f, warnings: warnings)).run(options)
            #expect(report.failure == nil, "\(report.failure?.text ?? "")")
            #expect(report.changesPending)
            let plan = try #require(report.steps.first { $0.step == .plan })
            #expect(plan.status == .warn)
            #expect(
                plan.message.contains("the update would be refused") && plan.message.contains("in place"),
                "\(plan.message)")
            #expect(TestFiles.read(tree + "/conf.nix") == "a\n")
            // With no stage check it would not be refused.
            options.checks = UpdateChecks(checks: [])
            let unchecked = await UpdateWorkflow(runner: Self.runner(f, warnings: warnings)).run(options)
            #expect(unchecked.steps.first { $0.step == .plan }?.status == .ok)
        }
    }

    /// With no stage check there is nothing to refuse: the tree goes in place (a mount point with `sync`'s notice),
    /// the symlink stays a symlink.
    @Test(arguments: Shape.allCases)
    func withoutStageChecksItIsAppliedInPlace(shape: Shape) async throws {
        try await Self.withTarget(shape) { f, tree, warnings in
            let report = await UpdateWorkflow(runner: Self.runner(f, warnings: warnings)).run(f.options(1))
            #expect(report.failure == nil, "\(report.failure?.text ?? "")")
            #expect(report.switched)
            #expect(TestFiles.read(tree + "/conf.nix") == "b\n")
            let recorded = try f.runner.state.load(target: f.target)
            #expect(recorded?.commit.hex == f.commits[1])
            #expect(f.runs() == ["\(f.commits[1]) 0"])
            if shape == .symlink { #expect(TestFiles.lstat(f.target).map { $0.st_mode & S_IFMT } == S_IFLNK) }
            let said = warnings.withLock { $0 }
            #expect(said.contains { $0.contains("is a mount point") } == (shape == .mountPoint), "\(said)")
        }
    }
}
