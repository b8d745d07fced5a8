import FoundationEssentials
import SmartSyncFetch
import SmartSyncFileSystem

/// What the metrics file counts for one target, kept across runs in `<state>/targets/<key>/counters.json`
/// (Codable JSON with a version, replaced atomically): counters only grow (Prometheus `_total`s), the `last…`
/// fields are the latest run's. Each `sync`, `update` and `rollback` adds its ``RunRecord`` and re-renders the
/// metrics file from these, on failure too.
public struct TargetCounters: Sendable, Hashable, Codable {
    /// The format's version; a file of a newer version is not read (the counters start over rather than mislead).
    public static let currentVersion = 1

    public var version = Self.currentVersion
    /// The target directory (absolute).
    public var target: String
    /// The metrics file this target's runs render (`--metrics-file`), so a later run of another target or a `gc`
    /// naming the same file renders this target into it too.
    public var metricsFile: String?
    /// When the last run started, and when the last successful one did.
    public var lastAttempt: Date?
    public var lastSuccess: Date?
    /// The last run's command, result and, when it failed, its error.
    public var lastCommand: String?
    public var lastResult: RunRecord.Result?
    public var lastFailure: RunRecord.Failure?
    /// How long the last run took, in seconds.
    public var lastDurationSeconds: Double = 0
    /// Failed runs since the last success.
    public var consecutiveFailures = 0
    /// Runs by command, then result.
    public var runs: [String: [String: Int]] = [:]
    /// Failed runs by error code.
    public var failures: [String: Int] = [:]
    /// Requests and bytes by transport, then kind of host.
    public var traffic: [String: [String: HostTraffic]] = [:]
    /// Objects written to the store, by transport.
    public var objects: [String: Int] = [:]
    /// Rollbacks (`rollback`, and `update`'s automatic ones).
    public var rollbacks = 0

    public init(target: String) {
        self.target = target
    }

    /// Adds one run.
    public mutating func add(_ run: RunRecord) {
        lastAttempt = run.time
        lastCommand = run.command
        lastResult = run.result
        lastDurationSeconds = run.seconds
        runs[run.command, default: [:]][run.result.rawValue, default: 0] += 1
        if run.result == .ok {
            lastSuccess = run.time
            lastFailure = nil
            consecutiveFailures = 0
        } else {
            lastFailure = run.failure
            consecutiveFailures += 1
            failures[run.failure?.code ?? "unknown", default: 0] += 1
        }
        if let transport = run.transport {
            for (host, t) in run.traffic {
                traffic[transport, default: [:]][host, default: HostTraffic()].requests += t.requests
                traffic[transport, default: [:]][host, default: HostTraffic()].bytes += t.bytes
            }
            if run.objects > 0 { objects[transport, default: 0] += run.objects }
        }
        if run.rollback { rollbacks += 1 }
    }
}

extension StateStore {
    /// `target`'s counters; fresh ones when none were saved (or the file is damaged or of a newer version).
    public func loadCounters(target: String) -> TargetCounters {
        let target = Self.normalize(target)
        guard let (bytes, _) = try? FileSystem.readFileIfPresent(directory(for: target) + "/counters.json"),
            let counters = try? JSONDecoder.records.decode(TargetCounters.self, from: Data(bytes)),
            counters.version <= TargetCounters.currentVersion
        else { return TargetCounters(target: target) }
        return counters
    }

    /// Saves `counters` atomically, without an fsync: a report of runs, not state (a power cut may lose the last runs'
    /// counts, or on a file system that does not order a replacing rename after its data, all of them: they start
    /// over, which Prometheus reads as a counter reset).
    public func saveCounters(_ counters: TargetCounters) throws {
        let dir = directory(for: counters.target)
        try FileSystem.makeDirectories(dir)
        try FileSystem.writeFileAtomically(
            dir + "/counters.json", Array(try JSONEncoder.records.encode(counters)), durable: false)
    }
}

extension JSONEncoder {
    /// Small state records: sorted keys, ISO 8601 dates (``RecordDate``: as `.iso8601` writes them).
    static var records: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RecordDate.string(date))
        }
        return e
    }
}

extension JSONDecoder {
    /// Reads what ``JSONEncoder/records`` writes; a date as `.iso8601` reads it (``RecordDate``).
    static var records: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            guard let date = RecordDate.date(try container.decode(String.self)) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "Expected date string to be ISO8601-formatted.")
            }
            return date
        }
        return d
    }
}
