import ArgumentParser
import FoundationEssentials
import SmartSyncCore
import SmartSyncWorkflow

/// `sync --all` and `update --all`: each configured target in turn, in name order.
///
/// A failure of one target does not stop the others. Each target gets its own reporter, so with `--json` every event
/// carries the target's `"name"` and each target ends with one `summary` (a failed run that wrote none gets
/// `{"event": "summary", "ok": false, "exitCode": N}`); a final `all` event lists each target's exit code. The exit
/// code is the worst (``TargetResolver/worst(_:)``).
enum AllTargetsRun {
    /// The runs a command's arguments name: with `all`, every configured target (``run(_:command:output:_:)``); else
    /// the target `argument` names, or none (nil: the flags alone say what to do). `body` runs each, given the
    /// resolver whose settings the command reads. With a `splay` (and the command's `source` flags), the run first
    /// waits once, whatever the number of targets.
    static func dispatch(
        all: Bool, argument: String?, common: CommonOptions, command: String, output: OutputOptions,
        splay: (options: SplayOptions, source: SourceOptions)? = nil,
        _ body: (ConfiguredTarget?, TargetResolver, Reporter) async throws -> Void
    ) async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        var resolved: (resolver: TargetResolver, targets: [ConfiguredTarget?])?
        try await RunContext.guarded(reporter) {
            let resolver = try TargetResolver(common)
            let targets: [ConfiguredTarget?] =
                all ? try resolver.allTargets() : [try resolver.target(forArgument: argument)]
            resolved = (resolver, targets)
            if let splay {
                try await splay.options.wait(targets: targets, source: splay.source, logger: output.logger(reporter))
            }
        }
        guard let (resolver, targets) = resolved else { return }
        if all {
            try await run(targets.compactMap { $0 }, command: command, output: output) {
                try await body($0, resolver, $1)
            }
        } else {
            try await RunContext.guarded(reporter) { try await body(targets[0], resolver, reporter) }
        }
    }

    static func run(
        _ targets: [ConfiguredTarget], command: String, output: OutputOptions,
        _ body: (ConfiguredTarget, Reporter) async throws -> Void
    ) async throws {
        var codes: [(name: String, code: Int32)] = []
        for target in targets {
            let reporter = Reporter(json: output.json, quiet: output.quiet, name: target.name)
            reporter.note("\(command) \(target.name): \(target.path)")
            var code = ExitCodes.success
            do {
                try await RunContext.guarded(reporter) { try await body(target, reporter) }
            } catch let exit as ExitCode {
                code = exit.rawValue
            } catch {
                reporter.fail(SmartSyncError(.internal, "\(target.name): \(error)"))
                code = ExitCodes.failure
            }
            if code != ExitCodes.success && output.json && !reporter.wroteSummary {
                reporter.writeJSONLine([
                    "event": "summary", "command": command, "target": target.path, "ok": false, "exitCode": Int(code),
                ])
            }
            codes.append((target.name, code))
        }
        let worst = TargetResolver.worst(codes.map(\.code))
        if output.json {
            Reporter(json: true, quiet: false).writeJSONLine([
                "event": "all", "command": command, "exitCode": Int(worst),
                "targets": codes.map { ["name": $0.name, "exitCode": Int($0.code)] as [String: Any] },
            ])
        } else if !output.quiet {
            let failed = codes.filter { $0.code != ExitCodes.success && $0.code != ExitCodes.changesPending }
            var line = "\(command) --all: \(codes.count) target\(codes.count == 1 ? "" : "s")"
            let names = failed.map { "\($0.name) (exit \($0.code))" }.joined(separator: ", ")
            line += failed.isEmpty ? ", all succeeded" : "; failed: " + names
            StandardStream.error.write(line + "\n")
        }
        if worst != ExitCodes.success { throw ExitCode(worst) }
    }
}
