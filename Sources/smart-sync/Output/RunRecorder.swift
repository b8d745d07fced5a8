import ArgumentParser
import FoundationEssentials
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncPipeline
import SmartSyncWorkflow
import Synchronization

/// Records one run of `sync`, `update` or `rollback` for `status` and the metrics file: a line of the target's
/// history, its counters, and, with `--metrics-file`, the file re-rendered. Done after the run whatever its end;
/// a failure to record is a warning, never the run's exit code.
final class RunRecorder: Sendable {
    let command: String
    let target: String
    let stateDirectory: String
    let storeDirectory: String
    let metricsFile: String?
    /// False for runs that change nothing (`--dry-run`, `--check-only`, `--list`): they are not recorded.
    let enabled: Bool
    private let pending: Mutex<Pending>

    private struct Pending {
        var record: RunRecord
        var source: (any SyncSource)?
    }

    /// A recorder for one run of `command` on `target`, with the state directory, store and metrics file the
    /// command's options, the config file and the configured target (if any) give, in that order.
    init(
        command: String, target: String, ref: String? = nil, common: CommonOptions, resolver: TargetResolver,
        configured: ConfiguredTarget?, metrics: MetricsOptions, enabled: Bool = true
    ) {
        self.enabled = enabled
        self.command = command
        self.target = StateStore.normalize(target)
        stateDirectory = common.stateDirectory(resolver.settings)
        storeDirectory = common.storeDirectory(resolver.settings)
        metricsFile = metrics.metricsFile ?? configured?.metricsFile
        pending = Mutex(Pending(record: RunRecord(time: Date(), command: command, ref: ref)))
    }

    /// The source the run opened: its transport and traffic are recorded (also when the run fails).
    func opened(_ source: any SyncSource) {
        pending.withLock { $0.source = source }
    }

    /// Changes the record (ref, from, to, objects; a result the run decides itself).
    func update(_ change: (inout RunRecord) -> Void) {
        pending.withLock { change(&$0.record) }
    }

    /// Records what a sync did: its ref, commits and the blobs it fetched.
    func ran(_ outcome: SyncRunner.Outcome) {
        update {
            $0.ref = outcome.resolved.name
            $0.from = outcome.previousCommit?.hex
            $0.to = outcome.resolved.commit.hex
            $0.objects = outcome.fetch.blobsFetched
        }
    }

    /// Records what an update did: its sync, and a rollback when it made one.
    func ran(_ report: UpdateReport) {
        if let sync = report.sync { ran(sync) }
        update {
            if let before = report.commitBefore { $0.from = before.hex }
            if let after = report.commitAfter { $0.to = after.hex }
            if report.rolledBack {
                $0.result = .rolledBack
                $0.rollback = true
            }
        }
    }

    /// Runs `body` and records how it ended, then rethrows its error. An `ExitCode` counts as a failure only when
    /// `body` recorded one first (``failed(_:)``: the errors after a switch).
    func recording(_ reporter: Reporter, _ body: () async throws -> Void) async throws {
        guard enabled else { return try await body() }
        let started = Date()
        pending.withLock { $0.record.time = started }
        do {
            try await body()
        } catch let error as SmartSyncError {
            failed(error)
            await finish(started: started, reporter: reporter)
            throw error
        } catch let exit as ExitCode {
            await finish(started: started, reporter: reporter)
            throw exit
        } catch {
            failed(SmartSyncError(.internal, "\(error)"))
            await finish(started: started, reporter: reporter)
            throw error
        }
        await finish(started: started, reporter: reporter)
    }

    /// Marks the run failed with `error` (keeping ``RunRecord/Result/rolledBack`` when the run said so).
    func failed(_ error: SmartSyncError) {
        update {
            if $0.result == .ok { $0.result = .failed }
            $0.failure = .init(code: error.code.description, message: error.message, hint: error.hint)
        }
    }

    private func finish(started: Date, reporter: Reporter) async {
        var (record, source) = pending.withLock { ($0.record, $0.source) }
        if record.from == nil && record.result == .failed,
            let previous = try? StateStore(root: stateDirectory).load(target: target)
        {
            // A run that failed before it knew its commits: the target is still at the state's commit. (Not read
            // up front: a run that succeeds says its own `from`, and the state holds a whole manifest.)
            record.from = previous.commit.hex
        }
        record.seconds = Date().timeIntervalSince(started)
        if let source {
            let statistics = source.statistics
            record.transport = source.transport
            record.traffic = RunRecord.traffic(of: statistics)
            record.objects += statistics.packObjects
        }
        do {
            try await save(record)
        } catch {
            let text = (error as? SmartSyncError)?.text ?? "\(error)"
            reporter.handle(.warning("the run was not recorded for status and metrics: \(text)"))
        }
    }

    private func save(_ record: RunRecord) async throws {
        let state = try StateStore(root: stateDirectory)
        let directory = state.directory(for: target)
        try FileSystem.makeDirectories(directory)
        // Runs of one target are serialized by its lock, but a run refused by that lock records too.
        let lock = try await FileLock.acquire(
            path: directory + "/counters.lock", what: "the counters of \(target)", shared: false,
            waitingUpTo: .seconds(30))
        defer { lock.release() }
        var counters = state.loadCounters(target: target)
        if let metricsFile { counters.metricsFile = MetricsWriter.absolute(metricsFile) }
        counters.add(record)
        try state.saveCounters(counters)
        try RunHistory(state: state, target: target).append(record)
        if let metricsFile { try MetricsWriter(state: state, storeDirectory: storeDirectory).write(to: metricsFile) }
    }
}

/// Renders a metrics file: every target of the state directory whose runs name that file.
struct MetricsWriter {
    let state: StateStore
    let storeDirectory: String

    static func absolute(_ path: String) -> String { StateStore.normalize(path) }

    func write(to file: String) throws {
        let file = Self.absolute(file)
        let store = StateStore.normalize(storeDirectory)
        let storeBytes = StoreUsage(state: state).measure(store)
        var targets: [TargetStatus] = []
        for target in try TargetStatus.knownTargets(in: state)
        where state.loadCounters(target: target).metricsFile == file {
            targets.append(try TargetStatus.gather(target: target, state: state, storeBytes: storeBytes))
        }
        try MetricsFile(path: file).write(
            targets, store: store, storeBytes: storeBytes, storeCounters: state.loadStoreCounters().stores[store])
    }
}
