import ArgumentParser
import FoundationEssentials
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncPipeline
import SmartSyncWorkflow

struct WarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Fetch the blobs of one or more refs into the store, touching no target.",
        discussion: """
            Pre-warm a host's cache before a maintenance window, so the later sync needs no blob downloads.

            EXAMPLES:
              smart-sync warm MasterofNull/Hyper-NixOS --ref main --ref v2.0.0
              smart-sync warm --source /srv/hypervisor.git --ref main --store /var/cache/smart-sync
              smart-sync warm MasterofNull/Hyper-NixOS --ref v2.1.0 --pin     # kept by gc until unpinned
              smart-sync warm hypervisor       # a configured target's source and ref

            \(ExitCodes.help)
            """)

    @OptionGroup var source: SourceOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var fleet: SplayOptions

    @Option(
        name: .long,
        help: """
            A ref to warm (repeatable), written as for sync --ref. Default: a configured target's ref, else the \
            repository's default branch.
            """)
    var ref: [String] = []

    @Flag(
        name: .long,
        help:
            """
            Pin each warmed ref's commit under the ref's name (HEAD for the default branch), so gc keeps its objects \
            and a sync by its full SHA needs no network, commit checks included (the commit's object and its ancestry \
            against the targets' commits and the other pins are asked now); `smart-sync pins` lists pins, `unpin` \
            drops them.
            """
    )
    var pin = false

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        try await RunContext.guarded(reporter) {
            let resolver = try TargetResolver(common)
            let configured = try resolver.target(forArgument: self.source.repository)
            var source = self.source
            try await fleet.wait(targets: [configured], source: self.source, logger: output.logger(reporter))
            if let configured { TargetResolver.apply(configured, to: &source) }
            let context = try await RunContext.make(
                source, common, output, reporter, settings: resolver.settings, tokenFile: configured?.tokenFile)
            defer { context.opened.close() }
            let refs: [String?] = ref.isEmpty ? [configured?.ref] : ref
            // Each ref's line as soon as it is warmed, not after the last.
            _ = try await context.runner.warm(refs: refs, pin: pin) { warmed in
                context.reporter.finish(
                    SyncSummary(
                        command: "warm", source: context.opened.source.displayName, ref: warmed.resolved.name,
                        commit: warmed.resolved.commit.hex, previousCommit: nil, target: nil, dryRun: false,
                        plan: warmed.plan, blobsFetched: warmed.report.blobsFetched,
                        bytesReceived: warmed.report.bytesReceived, requests: warmed.requests,
                        transport: context.opened.source.transport, seconds: warmed.seconds,
                        fallbackReason: context.opened.source.fallbackReason))
            }
        }
    }
}
