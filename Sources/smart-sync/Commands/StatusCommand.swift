import ArgumentParser
import FoundationEssentials
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncWorkflow

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what each target holds, how its last runs went, and what is pending in it.",
        discussion: """
            For each target the state directory knows (or the one --target names): the deployed commit and ref and \
            when it was applied; the last run (command, result, error and its hint); the last success; the kept \
            generations and local versions; the local edits pending (synced files that no longer hold what smart-sync \
            put there, judged by one lstat each against the stat cache and the seal, without hashing: `verify` \
            hashes); the store's size. Reads the state only: no lock, no network.

            --history lists the target's last runs (time, command, result, from, to, bytes, duration, error), \
            from <state>/targets/<key>/history, which sync, update and rollback append to (the last 1,000 runs).

            EXAMPLES:
              smart-sync status
              smart-sync status hypervisor --history     # [target.hypervisor] of the config file
              smart-sync status --target /etc/hypervisor
              smart-sync status --json | jq 'select(.lastResult != "ok")'

            \(ExitCodes.help)
              (status: 4 when --target names a directory the state directory has no record of)
            """)

    @Argument(help: ArgumentHelp("A target of the config file ([target.NAME]): show it only.", valueName: "name"))
    var name: String?

    @Option(name: .long, help: ArgumentHelp("Show this target directory only.", valueName: "dir"))
    var target: String?

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "List the last runs of each target.")
    var history = false

    @Option(name: .long, help: ArgumentHelp("Runs listed with --history.", valueName: "n"))
    var limit: Int = 20

    @Flag(name: .long, help: "Print one JSON object per target (and per run with --history) on stdout.")
    var json = false

    func validate() throws {
        if let name, !ConfiguredTarget.isValidName(name) {
            throw ValidationError(
                "status takes a target's NAME from the config file (got '\(name)'); for a directory give --target DIR.")
        }
        if name != nil && target != nil { throw ValidationError("Give a NAME or --target DIR, not both.") }
        if limit < 1 { throw ValidationError("--limit must be 1 or more (got \(limit)).") }
    }

    func run() async throws {
        let reporter = Reporter(json: json, quiet: false)
        try await RunContext.guarded(reporter) {
            let resolver = try TargetResolver(common)
            let configured = try name.map { try resolver.target(named: $0) }
            let target = configured?.path ?? self.target
            let stateRoot = common.stateDirectory(resolver.settings)
            let storeRoot = StateStore.normalize(common.storeDirectory(resolver.settings))
            let view = StatusView(reporter: reporter, json: json, store: storeRoot)
            guard FileSystem.exists(stateRoot + "/targets") else {
                if let target { throw Self.unknown(target, stateRoot) }
                view.none(stateRoot)
                return
            }
            let state = try StateStore(root: stateRoot)
            let targets: [String]
            if let target {
                targets = [StateStore.normalize(target)]
            } else {
                targets = try TargetStatus.knownTargets(in: state)
                if targets.isEmpty { view.none(stateRoot) }
            }
            let storeBytes = StoreUsage(state: state).measure(storeRoot, saving: false)
            for (index, target) in targets.enumerated() {
                let status = try Self.status(target: target, store: storeBytes, state: state)
                guard status.state != nil || status.counters.lastAttempt != nil else {
                    throw Self.unknown(target, stateRoot)
                }
                view.show(status, first: index == 0)
                if history {
                    view.history(try RunHistory(state: state, target: target).load().suffix(limit), target: target)
                }
            }
        }
    }

    /// The core: the status of one resolved target path, given the store's size and the state directory.
    static func status(target: String, store storeBytes: Int?, state: StateStore) throws -> TargetStatus {
        try TargetStatus.gather(target: target, state: state, storeBytes: storeBytes)
    }

    private static func unknown(_ target: String, _ stateRoot: String) -> SmartSyncError {
        SmartSyncError(
            .notFound, "no run of smart-sync is recorded for '\(StateStore.normalize(target))' in \(stateRoot)",
            hint: "check --target, and give status the --state-dir that sync uses")
    }
}
