import ArgumentParser
import FoundationEssentials
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncPipeline
import SmartSyncWorkflow

/// Options shared by `sync` and `plan`.
struct TargetOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            """
            Branch, tag, full ref name (refs/heads/x, refs/tags/x), or full or short commit SHA, resolved in git's \
            order (a name that is both a tag and a branch is refused: give the full name). Default: the repository's \
            default branch.
            """
    )
    var ref: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The directory to keep in sync (created when missing). Default: a configured target's path.",
            valueName: "dir"))
    var target: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            Leave paths matching GLOB alone (repeatable; added to a configured target's exclude list). Without '/', \
            matches a name at any depth; with '/', a path from the target's root or a directory prefix.
            """,
            valueName: "glob"))
    var exclude: [String] = []

    @Flag(
        name: .long,
        help:
            """
            Leave local edits in place: a tree path whose file differs from the tree and from what the last sync put \
            there is kept (reported as conflict), not replaced.
            """
    )
    var keepLocal = false

    /// `--all` runs each configured target: a repository, --source or --target would be the same for all of them.
    static func validateAll(_ all: Bool, _ source: SourceOptions, _ target: TargetOptions) throws {
        guard all else { return }
        if source.repository != nil {
            throw ValidationError("--all runs every configured target: give no OWNER/REPO or NAME with it.")
        }
        if source.source != nil || target.target != nil {
            throw ValidationError(
                "--all takes each target's source and path from the config file: --source and --target do not go "
                    + "with it.")
        }
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Bring a directory to the tree of a ref's commit, downloading only what the store lacks.",
        discussion: """
            EXAMPLES:
              smart-sync sync MasterofNull/Hyper-NixOS --ref main --target /etc/hypervisor
              smart-sync sync OWNER/REPO --ref v1.2.0 --target ./conf --json
              smart-sync sync --source ./repo.git --target ./conf --exclude 'secrets/*'
              smart-sync sync hypervisor             # [target.hypervisor] of the config file
              smart-sync sync hypervisor --ref v2    # flags override the target's values
              smart-sync sync --all --json           # every configured target

            \(ExitCodes.help)
            """)

    @OptionGroup var source: SourceOptions
    @OptionGroup var target: TargetOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "Plan and report, but change nothing and download nothing.")
    var dryRun = false

    @Flag(
        name: .long,
        help: """
            Sync every target of the config file in turn, in name order; a failing one does not stop the others (exit \
            code: the worst).
            """)
    var all = false

    @OptionGroup var policy: StorePolicyOptions
    @OptionGroup var metrics: MetricsOptions
    @OptionGroup var fleet: SplayOptions
    @OptionGroup(title: "Commit checks") var commit: CommitPolicyOptions

    func validate() throws { try TargetOptions.validateAll(all, source, target) }

    func run() async throws {
        try await AllTargetsRun.dispatch(
            all: all, argument: source.repository, common: common, command: "sync", output: output,
            splay: dryRun ? nil : (fleet, source)
        ) { try await sync($0, $1, $2) }
    }

    /// One sync: of `configured` (its values under the flags), or of what the flags alone name; recorded for
    /// `status` and the metrics file however it ends.
    private func sync(_ configured: ConfiguredTarget?, _ resolver: TargetResolver, _ reporter: Reporter) async throws {
        let (source, target, path) = try TargetResolver.resolve(configured, source, target, command: "sync")
        let recorder = RunRecorder(
            command: "sync", target: path, ref: target.ref, common: common, resolver: resolver, configured: configured,
            metrics: metrics, enabled: !dryRun)
        try await recorder.recording(reporter) {
            let context = try await RunContext.make(
                source, common, output, reporter, settings: resolver.settings, tokenFile: configured?.tokenFile,
                commitPolicy: try commit.policy(configured, resolver.settings))
            defer { context.opened.close() }
            recorder.opened(context.opened.source)
            let started = Date()
            let outcome: SyncRunner.Outcome
            do {
                outcome = try await context.runner.sync(
                    .init(
                        ref: target.ref, target: path, excludes: target.exclude, dryRun: dryRun,
                        keepLocal: target.keepLocal))
            } catch let failed as FailedAfterSwitch<SyncRunner.Outcome> {
                // The target holds the new tree: the summary says so, then the error, with its own exit code.
                recorder.ran(failed.outcome)
                recorder.failed(failed.error)
                var summary = SyncSummary(
                    failed.outcome, command: "sync", source: context.opened.source, target: path,
                    dryRun: dryRun, started: started)
                summary.failedAfterSwitch = failed.step.rawValue
                context.reporter.finish(summary)
                context.reporter.fail(failed.error, switched: true)
                throw ExitCode(ExitCodes.switchedThenFailed)
            }
            recorder.ran(outcome)
            // The sync has let go of the store; a store over its size limit is cleaned before the summary.
            if !dryRun && outcome.mayHaveGrownStore(context.opened.source) {
                await StoreSizePolicy.apply(
                    maxSize: policy.maxSize, settings: context.settings, runner: context.runner, reporter: reporter)
            }
            context.reporter.finish(
                .init(
                    outcome, command: "sync", source: context.opened.source, target: path, dryRun: dryRun,
                    started: started))
        }
    }
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what sync would change. Exit 0 when up to date, 3 when changes are pending.",
        discussion: """
            EXAMPLES:
              smart-sync plan MasterofNull/Hyper-NixOS --ref feature-branch --target /etc/hypervisor
              smart-sync plan OWNER/REPO --target ./conf --json | jq 'select(.event == "summary")'
              smart-sync plan hypervisor --ref feature-x   # a configured target

            \(ExitCodes.help)
            """)

    @OptionGroup var source: SourceOptions
    @OptionGroup var target: TargetOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "List every change, one line per path (with --json: a change event per path).")
    var list = false

    @OptionGroup(title: "Commit checks") var commit: CommitPolicyOptions

    func run() async throws {
        var pending = false
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        try await RunContext.guarded(reporter) {
            let resolver = try TargetResolver(common)
            let configured = try resolver.target(forArgument: self.source.repository)
            let (source, target, path) = try TargetResolver.resolve(
                configured, self.source, self.target, command: "plan")
            let context = try await RunContext.make(
                source, common, output, reporter, settings: resolver.settings, tokenFile: configured?.tokenFile,
                commitPolicy: try commit.policy(configured, resolver.settings))
            defer { context.opened.close() }
            let started = Date()
            let outcome = try await context.runner.plan(
                .init(ref: target.ref, target: path, excludes: target.exclude, keepLocal: target.keepLocal))
            if list { context.reporter.listChanges(outcome.plan) }
            context.reporter.finish(
                .init(
                    outcome, command: "plan", source: context.opened.source, target: path, dryRun: true,
                    started: started))
            pending = !outcome.summary.upToDate
        }
        if pending { throw ExitCode(ExitCodes.changesPending) }
    }
}

extension SyncRunner.Outcome {
    /// True unless the run was a no-op: nothing applied, fetched, imported or kept.
    func mayHaveGrownStore(_ source: any SyncSource) -> Bool {
        !summary.upToDate || fetch.blobsFetched > 0 || !kept.isEmpty || source.statistics.packObjects > 0
    }
}

extension SyncSummary {
    init(
        _ outcome: SyncRunner.Outcome, command: String, source: any SyncSource, target: String?, dryRun: Bool,
        started: Date
    ) {
        self.init(
            command: command, source: source.displayName, ref: outcome.resolved.name,
            commit: outcome.resolved.commit.hex,
            previousCommit: outcome.previousCommit?.hex, target: target, dryRun: dryRun, plan: outcome.summary,
            blobsFetched: outcome.fetch.blobsFetched, bytesReceived: outcome.fetch.bytesReceived,
            requests: source.statistics, transport: source.transport, seconds: Date().timeIntervalSince(started),
            fallbackReason: source.fallbackReason,
            kept: outcome.kept.map { KeptPath(path: $0.path.description, id: $0.id.hex) },
            placed: outcome.applied.map(SyncSummary.Placed.init), switched: outcome.switched)
        commitChecks = outcome.commitChecks
    }
}
