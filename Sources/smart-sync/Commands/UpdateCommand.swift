import ArgumentParser
import FoundationEssentials
import SmartSyncFetch
import SmartSyncPipeline
import SmartSyncValidation
import SmartSyncWorkflow

struct UpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Validate, sync (checking the new tree before the switch), rebuild, validate; roll back on failure.",
        discussion: """
            The steps, each reported: (1) pre-validate: validate's quick checks on the current target; a failure \
            stops the update before anything changes, unless --force. (2) sync: the new tree is staged beside the \
            target and validated there (the same checks, except integrity); only if it passes is it swapped in. \
            (3) rebuild: `nixos-rebuild {action} --flake {target}#{hostname}` by default, run when the tree \
            changed (--rebuild-always: every time). (4) post-validate: the full checks.

            When the rebuild or the post-validation fails, the target is rolled back to the tree this update \
            replaced and, for the actions test and switch (which change the running system), the rebuild runs \
            again for it; the exit code is 1 and the message says what failed and where the target is now. \
            Checks that already failed before the update (passed with --force) are not held against it. A sync that \
            fails after its switch (pruning old generations, saving the state) counts as a switch: the target is \
            rolled back the same way.

            The target stays locked from the pre-validation to the last step: a sync, rollback or update of it \
            meanwhile exits 7. An update killed (or failed) after its switch is finished by the next one: it \
            rebuilds and validates the tree in the target although nothing changed ("resumed" in the JSON \
            summary), rolling back to the last tree an update confirmed when that fails.

            The checks come from --config FILE, else /etc/smart-sync/config.toml (under --root) when it exists, \
            else the built-in hypervisor checks (see docs/VALIDATION.md); a configured target's `checks` key picks \
            builtin, config (the file's [[check]] entries) or none.

            EXAMPLES:
              smart-sync update MasterofNull/Hyper-NixOS --ref main --target /etc/hypervisor
              smart-sync update MasterofNull/Hyper-NixOS --ref feature-x --target /etc/hypervisor --check-only
              smart-sync update OWNER/REPO --target /etc/hypervisor --rebuild-action test
              smart-sync update --source ./repo.git --target ./conf --rebuild-command 'make -C {target} check'
              smart-sync update hypervisor           # [target.hypervisor] of the config file
              smart-sync update --all                # every configured target in turn

            \(ExitCodes.help)
              (update: 1 also when a check or the rebuild failed; 3 with --check-only when changes are pending)
            """)

    @OptionGroup var source: SourceOptions
    @OptionGroup var target: TargetOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    @OptionGroup var checks: ChecksOptions

    @OptionGroup var policy: StorePolicyOptions
    @OptionGroup var metrics: MetricsOptions
    @OptionGroup var fleet: SplayOptions
    @OptionGroup(title: "Commit checks") var commit: CommitPolicyOptions

    @Flag(name: .long, help: "Update even when the pre-validation fails.")
    var force = false

    @Flag(name: .long, help: "Pre-validate and plan only; exit 3 when changes are pending, 0 when up to date.")
    var checkOnly = false

    @Flag(name: .long, help: "Do not run the rebuild command (a configured target: skip_rebuild).")
    var skipRebuild = false

    @Flag(
        name: .long,
        help: """
            Update every target of the config file in turn, in name order; a failing one does not stop the others \
            (exit code: the worst).
            """)
    var all = false

    @Flag(name: .long, help: "Run the rebuild even when the tree did not change.")
    var rebuildAlways = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            The rebuild command, run with /bin/sh -c; {action}, {target}, {hostname} are substituted. Default: a \
            configured target's rebuild, else `nixos-rebuild {action} --flake {target}#{hostname}`.
            """,
            valueName: "cmd"))
    var rebuildCommand: String?

    @Option(name: .long, help: ArgumentHelp("build, test or switch.", valueName: "action"))
    var rebuildAction: String = "switch"

    @Option(
        name: .long, help: ArgumentHelp("The flake host for {hostname} (default: this host's name).", valueName: "name")
    )
    var hostname: String?

    func validate() throws {
        if RebuildCommand.Action(rawValue: rebuildAction) == nil {
            throw ValidationError("--rebuild-action must be build, test or switch (got '\(rebuildAction)').")
        }
        if skipRebuild && rebuildAlways {
            throw ValidationError("--skip-rebuild and --rebuild-always contradict each other; give one.")
        }
        try TargetOptions.validateAll(all, source, target)
    }

    func run() async throws {
        try await AllTargetsRun.dispatch(
            all: all, argument: source.repository, common: common, command: "update", output: output,
            splay: checkOnly ? nil : (fleet, source)
        ) { try await update($0, $1, $2) }
    }

    /// One update: of `configured` (its values under the flags), or of what the flags alone name. Exit 3 is thrown
    /// with --check-only when changes are pending.
    private func update(_ configured: ConfiguredTarget?, _ resolver: TargetResolver, _ reporter: Reporter)
        async throws
    {
        let (source, target, path) = try TargetResolver.resolve(configured, source, target, command: "update")
        let recorder = RunRecorder(
            command: "update", target: path, ref: target.ref, common: common, resolver: resolver,
            configured: configured, metrics: metrics, enabled: !checkOnly)
        try await recorder.recording(reporter) {
            try await update(configured, source, target, path, resolver, recorder, reporter)
        }
    }

    private func update(
        _ configured: ConfiguredTarget?, _ source: SourceOptions, _ target: TargetOptions, _ path: String,
        _ resolver: TargetResolver, _ recorder: RunRecorder, _ reporter: Reporter
    ) async throws {
        let checks = try loadChecks(configured)
        let context = try await RunContext.make(
            source, common, output, reporter, settings: resolver.settings, tokenFile: configured?.tokenFile,
            commitPolicy: try commit.policy(configured, resolver.settings))
        defer { context.opened.close() }
        recorder.opened(context.opened.source)
        let started = Date()
        // --rebuild-always asks for the rebuild, whatever the target's skip_rebuild says.
        let skip = skipRebuild || (configured?.skipRebuild == true && !rebuildAlways)
        var options = UpdateWorkflow.Options(
            request: .init(ref: target.ref, target: path, excludes: target.exclude, keepLocal: target.keepLocal),
            checks: checks,
            rebuild: skip
                ? nil
                : RebuildCommand(
                    template: rebuildCommand ?? configured?.rebuild ?? RebuildCommand.defaultTemplate,
                    action: RebuildCommand.Action(rawValue: rebuildAction) ?? .switch, hostname: hostname))
        options.force = force
        options.checkOnly = checkOnly
        options.rebuildAlways = rebuildAlways
        options.captureOutput = reporter.mode == .json || reporter.mode == .quiet
        let output = self.output
        let workflow = UpdateWorkflow(
            runner: context.runner, events: { reporter.update($0, verbose: output.isVerbose) })
        let report = await workflow.run(options)
        recorder.ran(report)
        if report.failure == nil && !checkOnly {
            await StoreSizePolicy.apply(
                maxSize: policy.maxSize, settings: context.settings, runner: context.runner, reporter: reporter)
        }
        reporter.finish(report, target: path, checkOnly: checkOnly, source: context.opened.source, started: started)
        if let failure = report.failure { throw failure }
        if checkOnly && report.changesPending { throw ExitCode(ExitCodes.changesPending) }
    }

    /// The checks as `validate` finds them: --config, else the default file under --root, else the built-in ones;
    /// a configured target's `checks` key picks among them.
    private func loadChecks(_ configured: ConfiguredTarget?) throws -> UpdateChecks {
        let found = try checks.load(config: common.config)
        let settings = try ChecksOptions.select(configured?.checks, from: found, for: configured)
        return UpdateChecks(checks: settings.checks, root: checks.rootPath, defaults: settings.defaults)
    }
}
