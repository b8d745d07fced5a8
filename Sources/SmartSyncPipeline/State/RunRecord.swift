import FoundationEssentials
import SmartSyncFetch

/// What one run of `sync`, `update` or `rollback` did to a target: a line of its ``RunHistory`` and what its
/// ``TargetCounters`` add up.
public struct RunRecord: Sendable, Hashable, Codable {
    /// How the run ended.
    public enum Result: String, Sendable, Hashable, Codable {
        /// It did what it was asked (an up-to-date sync included).
        case ok
        /// It failed; the target is as before, or, with an error after the switch, holds the new tree.
        case failed
        /// `update` switched, then a check or the rebuild failed, and it rolled the target back.
        case rolledBack = "rolled back"
    }

    /// Why a run failed: the error's code, message and hint.
    public struct Failure: Sendable, Hashable, Codable {
        /// `SmartSyncError.Code` (`network`, `integrity`, …).
        public var code: String
        public var message: String
        public var hint: String?

        public init(code: String, message: String, hint: String?) {
            self.code = code
            self.message = message
            self.hint = hint
        }
    }

    /// When it started.
    public var time: Date
    /// `sync`, `update` or `rollback`.
    public var command: String
    /// The ref asked for (sync, update), if any.
    public var ref: String?
    /// The commit the target held before (hex), if any.
    public var from: String?
    /// The commit the target holds after (hex), if it moved or was confirmed.
    public var to: String?
    public var result: Result
    /// Set when ``result`` is not ``Result/ok``.
    public var failure: Failure?
    /// How blobs travelled (`raw`, `pack`, `pack+raw`, `clone`, `local`); nil when no source was opened.
    public var transport: String?
    /// Requests and bytes by kind of host (`api`, `raw`, `git`; `local` for a local repository's bytes).
    public var traffic: [String: HostTraffic]
    /// Objects written to the store: blobs fetched one by one plus objects imported from packs.
    public var objects: Int
    /// How long it took.
    public var seconds: Double
    /// True when the run rolled the target back (`rollback`, or `update`'s automatic rollback).
    public var rollback: Bool

    public init(
        time: Date, command: String, ref: String? = nil, from: String? = nil, to: String? = nil, result: Result = .ok,
        failure: Failure? = nil, transport: String? = nil, traffic: [String: HostTraffic] = [:], objects: Int = 0,
        seconds: Double = 0, rollback: Bool = false
    ) {
        self.time = time
        self.command = command
        self.ref = ref
        self.from = from
        self.to = to
        self.result = result
        self.failure = failure
        self.transport = transport
        self.traffic = traffic
        self.objects = objects
        self.seconds = seconds
        self.rollback = rollback
    }

    /// Body bytes received, over every host.
    public var bytes: Int { traffic.values.reduce(0) { $0 + $1.bytes } }

    /// The traffic a source counted, by kind of host; bytes it could not place on a host (a local repository's)
    /// count as `local`.
    public static func traffic(of statistics: SourceStatistics) -> [String: HostTraffic] {
        var out: [String: HostTraffic] = [:]
        for (kind, t) in statistics.byHost where t.requests > 0 || t.bytes > 0 { out[kind.rawValue] = t }
        let placed = statistics.byHost.values.reduce(0) { $0 + $1.bytes }
        if statistics.bytesReceived > placed { out["local"] = HostTraffic(bytes: statistics.bytesReceived - placed) }
        return out
    }
}

/// The per-target history of runs, `<state>/targets/<key>/history`: one JSON object per line (``RunRecord``), the
/// newest last, at most ``limit`` lines (see ``LineLog``); a line cut short by a crash is skipped.
public struct RunHistory: Sendable {
    public let log: LineLog

    public init(path: String, limit: Int = 1_000) {
        var log = LineLog(path: path, limit: limit)
        log.durable = false  // a report of runs, not state: no fsync (see LineLog.durable)
        log.trimmedTo = limit - limit / 8  // full, it is rewritten once in `limit / 8 + 1` runs, not on every run
        self.log = log
    }

    /// The history of `target` in `state`.
    public init(state: StateStore, target: String) {
        self.init(path: state.directory(for: StateStore.normalize(target)) + "/history")
    }

    /// Every readable record, oldest first.
    public func load() throws -> [RunRecord] {
        let decoder = JSONDecoder.records
        return try log.lines().compactMap { try? decoder.decode(RunRecord.self, from: Data($0.utf8)) }
    }

    /// Appends one record (one write, fsynced).
    public func append(_ record: RunRecord) throws {
        let data = try JSONEncoder.records.encode(record)
        try log.append([String(decoding: data, as: UTF8.self)])
    }

}
