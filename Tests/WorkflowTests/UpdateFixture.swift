import Foundation
import SmartSyncFetch
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncWorkflow
import TestSupport

/// Commits a, b, c of one repository (`conf.nix` says which), a runner on it, a target, and a rebuild command that
/// logs `commit rollback` per run and fails when the target's `conf.nix` says `failOn`.
struct UpdateFixture {
    let dirs: TemporaryDirectory
    let repo: GitFixture
    var commits: [String] = []
    var runner: SyncRunner
    var target: String { dirs.appending("target") }
    var log: String { dirs.appending("rebuild.log") }

    init() async throws {
        dirs = try TemporaryDirectory(prefix: "workflow")
        repo = try GitFixture()
        for v in ["a", "b", "c"] {
            try repo.write("conf.nix", "\(v)\n")
            commits.append(try repo.commit(v))
        }
        runner = SyncRunner(
            source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: dirs.appending("store")),
            state: try StateStore(root: dirs.appending("state")))
    }

    /// Syncs the target to commit `i` with a plain run.
    func sync(_ i: Int) async throws {
        _ = try await runner.sync(.init(ref: commits[i], target: target))
    }

    /// `update` to commit `i`, rebuilding with the logging command (failing for `failOn`).
    func options(_ i: Int, failOn: String? = nil) -> UpdateWorkflow.Options {
        var template = "printf '%s %s\\n' \"$SMART_SYNC_COMMIT\" \"$SMART_SYNC_ROLLBACK\" >> '\(log)'"
        if let failOn { template += " && ! grep -qx '\(failOn)' \"$SMART_SYNC_TARGET/conf.nix\"" }
        var options = UpdateWorkflow.Options(
            request: .init(ref: commits[i], target: target), checks: UpdateChecks(checks: []),
            rebuild: RebuildCommand(template: template, action: .switch, hostname: "h"))
        options.captureOutput = true
        return options
    }

    /// The rebuild runs so far, as `commit rollback` lines.
    func runs() -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The target's `conf.nix`.
    func conf() -> String? { try? String(contentsOfFile: target + "/conf.nix", encoding: .utf8) }
}
