import ArgumentParser
import Foundation
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
            else the built-in hypervisor checks (see docs/VALIDATION.md).

            EXAMPLES:
              smart-sync update MasterofNull/Hyper-NixOS --ref main --target /etc/hypervisor
              smart-sync update MasterofNull/Hyper-NixOS --ref feature-x --target /etc/hypervisor --check-only
              smart-sync update OWNER/REPO --target /etc/hypervisor --rebuild-action test
              smart-sync update --source ./repo.git --target ./conf --rebuild-command 'make -C {target} check'

            \(ExitCodes.help)
              (update: 1 also when a check or the rebuild failed; 3 with --check-only when changes are pending)
            """)

    @OptionGroup var source: SourceOptions
    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    @OptionGroup var checks: ChecksOptions

    @OptionGroup var policy: StorePolicyOptions

    @OptionGroup var metrics: MetricsOptions

    @Flag(name: .long, help: "Update even when the pre-validation fails.")
    var force = false

    @Flag(name: .long, help: "Pre-validate and plan only; exit 3 when changes are pending, 0 when up to date.")
    var checkOnly = false

    @Flag(name: .long, help: "Do not run the rebuild command.")
    var skipRebuild = false

    @Flag(name: .long, help: "Run the rebuild even when the tree did not change.")
    var rebuildAlways = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The rebuild command, run with /bin/sh -c; {action}, {target}, {hostname} are substituted.",
            valueName: "cmd"))
    var rebuildCommand: String = RebuildCommand.defaultTemplate

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
    }

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        var pending = false
        let recorder = RunRecorder(
            command: "update", target: target.target, ref: target.ref, stateDir: source.stateDir, store: source.store,
            metricsFile: metrics.metricsFile, enabled: !checkOnly)
        try await RunContext.guarded(reporter, recording: recorder) {
            let checks = try loadChecks()
            let context = try await RunContext.make(source, output, reporter, config: self.checks.config)
            defer { context.opened.close() }
            recorder.opened(context.opened.source)
            let started = Date()
            var options = UpdateWorkflow.Options(
                request: .init(
                    ref: target.ref, target: target.target, excludes: target.exclude, keepLocal: target.keepLocal),
                checks: checks,
                rebuild: skipRebuild
                    ? nil
                    : RebuildCommand(
                        template: rebuildCommand, action: RebuildCommand.Action(rawValue: rebuildAction) ?? .switch,
                        hostname: hostname))
            options.force = force
            options.checkOnly = checkOnly
            options.rebuildAlways = rebuildAlways
            options.captureOutput = reporter.mode == .json || reporter.mode == .quiet
            let workflow = UpdateWorkflow(
                runner: context.runner, events: { reporter.update($0, verbose: output.verbose) })
            let report = await workflow.run(options)
            recorder.ran(report)
            if report.failure == nil && !checkOnly {
                await StoreSizePolicy.apply(
                    maxSize: policy.maxSize, settings: context.settings, runner: context.runner, reporter: reporter)
            }
            reporter.finish(
                report, target: target.target, checkOnly: checkOnly, source: context.opened.source, started: started)
            if let failure = report.failure { throw failure }
            pending = checkOnly && report.changesPending
        }
        if pending { throw ExitCode(ExitCodes.changesPending) }
    }

    /// The checks as `validate` finds them: --config, else the default file under --root, else the built-in ones.
    private func loadChecks() throws -> UpdateChecks {
        let settings = try checks.load()
        return UpdateChecks(checks: settings.checks, root: checks.rootPath, defaults: settings.defaults)
    }
}
