import ArgumentParser
import Foundation
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncPipeline

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

            \(ExitCodes.help)
            """)

    @OptionGroup var source: SourceOptions
    @OptionGroup var output: OutputOptions

    @Option(
        name: .long,
        help: "A ref to warm (repeatable), written as for sync --ref. Default: the repository's default branch.")
    var ref: [String] = []

    @Flag(
        name: .long,
        help:
            "Pin each warmed ref's commit under the ref's name (HEAD for the default branch), so gc keeps its objects; `smart-sync pins` lists pins, `unpin` drops them."
    )
    var pin = false

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        try await RunContext.guarded(reporter) {
            let context = try await RunContext.make(source, output, reporter)
            defer { context.opened.close() }
            let refs: [String?] = ref.isEmpty ? [nil] : ref
            for (resolved, report, plan) in try await context.runner.warm(refs: refs, pin: pin) {
                let started = Date()
                context.reporter.finish(
                    SyncSummary(
                        command: "warm", source: context.opened.source.displayName, ref: resolved.name,
                        commit: resolved.commit.hex,
                        previousCommit: nil, target: nil, dryRun: false, plan: plan, blobsFetched: report.blobsFetched,
                        bytesReceived: report.bytesReceived, requests: context.opened.source.statistics,
                        transport: context.opened.source.transport, seconds: Date().timeIntervalSince(started),
                        fallbackReason: context.opened.source.fallbackReason))
            }
        }
    }
}
