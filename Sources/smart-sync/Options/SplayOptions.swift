import ArgumentParser
import Logging
import SmartSyncCore
import SmartSyncWorkflow

/// `--splay`: read by ``Splay/init(parsing:)``.
extension Splay: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// `sync`, `warm` and `update`'s `--splay`: a random delay before the first request, so many hosts started together
/// reach the origin or a mirror spread out. `plan` (and `sync --dry-run`, `update --check-only`) and runs from a local
/// repository never wait.
struct SplayOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            Wait a random time below this (30s, 5m, 1h) before the first request, so hosts started together spread \
            out (with --all: once for the run). Not for --source runs. Default: a configured target's splay, else none.
            """,
            valueName: "duration"))
    var splay: Splay?

    /// The bound for a run of `targets` (nil: the flags alone name the run) whose flags are `source`: `--splay`, else
    /// the largest `splay` of the targets that use the network; none when every target reads a local repository.
    func bound(targets: [ConfiguredTarget?], source: SourceOptions) -> Splay {
        let remote = targets.filter { ($0?.source ?? source.source) == nil }
        guard !remote.isEmpty else { return .none }
        if let splay { return splay }
        return remote.compactMap { $0?.splay }.max { $0.seconds < $1.seconds } ?? .none
    }

    /// Waits the splay for a run of `targets` (see ``bound(targets:source:)``), saying so at `-v`.
    func wait(targets: [ConfiguredTarget?], source: SourceOptions, logger: Logger) async throws {
        let bound = bound(targets: targets, source: source)
        guard bound.seconds > 0 else { return }
        let delay = bound.randomDelay()
        logger.debug(
            "splay: waiting \((delay * 10).rounded() / 10) s (a random delay below \(bound)) before the first request",
            metadata: ["delayMs": Logger.milliseconds(delay), "splay": "\(bound)"])
        try await Splay.wait(delay)
    }
}
