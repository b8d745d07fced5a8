import Foundation
import SmartSyncCore
import SmartSyncPipeline
import SmartSyncValidation
import SmartSyncWorkflow
import TestSupport
import Testing

/// `update` holds the target's lock from its first check to its last, rollback included.
@Suite(.serialized) struct UpdateLockTests {
    @Test func theTargetStaysLockedFromTheFirstCheckToTheLast() async throws {
        let f = try await UpdateFixture()
        try await f.sync(0)
        let state = f.runner.state
        let target = f.target
        // At the start of each step, another run tries the lock.
        let seen = Locked<[String]>([])
        let probe: @Sendable (UpdateEvent) -> Void = { event in
            guard case .started(let step, _) = event else { return }
            var free = false
            if let lock = try? state.lock(target: target) {
                free = true
                lock.release()
            }
            seen.withLock { $0.append("\(step.rawValue)=\(free ? "free" : "locked")") }
        }
        // A check to run on the stage: without one there is no `validate-stage` step.
        let checked = { (options: UpdateWorkflow.Options) -> UpdateWorkflow.Options in
            var options = options
            options.checks = UpdateChecks(checks: [FileCheck(path: "conf.nix")])
            return options
        }
        let passing = await UpdateWorkflow(runner: f.runner, events: probe).run(checked(f.options(1)))
        #expect(passing.failure == nil, "\(passing.failure?.message ?? "")")
        // A failing rebuild: the rollback and the rebuild of the old tree run under the same lock.
        let failing = await UpdateWorkflow(runner: f.runner, events: probe).run(checked(f.options(2, failOn: "c")))
        #expect(failing.rolledBack)
        #expect(f.conf() == "b\n")
        let steps = seen.withLock { $0 }
        #expect(
            steps == [
                "pre-validate=locked", "sync=locked", "validate-stage=locked", "rebuild=locked", "post-validate=locked",
                "pre-validate=locked", "sync=locked", "validate-stage=locked", "rebuild=locked", "rollback=locked",
                "rebuild-previous=locked",
            ], "\(steps)")
        // Released when the update ends.
        let after = try state.lock(target: target)
        after.release()
    }
}
