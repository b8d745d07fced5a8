import FoundationEssentials
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects

/// The Prometheus textfile-collector file (`--metrics-file`): node_exporter's textfile collector (or any reader of
/// the text exposition format) picks it up. Rendered whole from the state directory's counters after each run and
/// replaced atomically (temp beside it, rename; mode 0644 whatever the umask; not fsynced), so a scrape never sees half
/// a file. The metrics are listed in docs/METRICS.md.
public struct MetricsFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Writes `targets` (and the store's size and gc counters) to the file.
    public func write(
        _ targets: [TargetStatus], store: String?, storeBytes: Int?, storeCounters: StoreCounters.Entry?
    ) throws {
        let text = Self.render(targets, store: store, storeBytes: storeBytes, storeCounters: storeCounters)
        // Rendered anew by every run: not fsynced (see
        // ``FileSystem/writeFileAtomically(_:_:mode:ignoringUmask:durable:)``). After a power cut on a file system that
        // does not order a replacing rename after its data (XFS, btrfs) the file may be empty until the next run
        // renders it: a scrape then fails to parse it, for one timer period.
        try FileSystem.writeFileAtomically(path, Array(text.utf8), mode: 0o644, ignoringUmask: true, durable: false)
    }

    /// The file's text: each family's `# HELP` and `# TYPE`, then its samples, families with no sample left out.
    /// Every series carries `target` (the target's path), store series `store` too, so that files of several
    /// targets can sit in one collector directory without two files holding the same series.
    public static func render(
        _ targets: [TargetStatus], store: String?, storeBytes: Int?, storeCounters: StoreCounters.Entry?
    ) -> String {
        var out = MetricsText()
        out.family("smart_sync_last_attempt_timestamp_seconds", .gauge, "When the last run started (Unix time).") {
            for t in targets {
                if let d = t.counters.lastAttempt { $0.sample(["target": t.target], d.timeIntervalSince1970) }
            }
        }
        out.family("smart_sync_last_success_timestamp_seconds", .gauge, "When the last successful run started.") {
            for t in targets {
                if let d = t.counters.lastSuccess { $0.sample(["target": t.target], d.timeIntervalSince1970) }
            }
        }
        out.family("smart_sync_last_run_duration_seconds", .gauge, "How long the last run took.") {
            for t in targets where t.counters.lastAttempt != nil {
                $0.sample(["target": t.target], t.counters.lastDurationSeconds)
            }
        }
        out.family("smart_sync_consecutive_failures", .gauge, "Failed runs since the last successful one.") {
            for t in targets { $0.sample(["target": t.target], Double(t.counters.consecutiveFailures)) }
        }
        out.family("smart_sync_deployed_info", .gauge, "The commit and ref the target holds (value always 1).") {
            for t in targets {
                if let s = t.state { $0.sample(["target": t.target, "commit": s.commit.hex, "ref": s.ref], 1) }
            }
        }
        out.family("smart_sync_deployed_timestamp_seconds", .gauge, "When the deployed commit was applied.") {
            for t in targets { if let s = t.state { $0.sample(["target": t.target], Double(s.appliedAtNs) / 1e9) } }
        }
        out.family("smart_sync_runs_total", .counter, "Runs by command and result (ok, failed, rolled back).") {
            for t in targets {
                for (command, results) in t.counters.runs.sorted(by: { $0.key < $1.key }) {
                    for (result, n) in results.sorted(by: { $0.key < $1.key }) {
                        $0.sample(["target": t.target, "command": command, "result": result], Double(n))
                    }
                }
            }
        }
        out.family("smart_sync_failures_total", .counter, "Failed runs by error code (as in --json's error event).") {
            for t in targets {
                for (code, n) in t.counters.failures.sorted(by: { $0.key < $1.key }) {
                    $0.sample(["target": t.target, "code": code], Double(n))
                }
            }
        }
        out.family(
            "smart_sync_requests_total", .counter, "Requests sent, by transport and kind of host (api, raw, git)."
        ) {
            for t in targets { traffic(t, into: &$0) { Double($0.requests) } }
        }
        out.family("smart_sync_received_bytes_total", .counter, "Body bytes received, by transport and kind of host.") {
            for t in targets { traffic(t, into: &$0) { Double($0.bytes) } }
        }
        out.family("smart_sync_objects_fetched_total", .counter, "Objects written to the store, by transport.") {
            for t in targets {
                for (transport, n) in t.counters.objects.sorted(by: { $0.key < $1.key }) {
                    $0.sample(["target": t.target, "transport": transport], Double(n))
                }
            }
        }
        out.family("smart_sync_rollbacks_total", .counter, "Rollbacks: rollback, and update's automatic ones.") {
            for t in targets { $0.sample(["target": t.target], Double(t.counters.rollbacks)) }
        }
        out.family("smart_sync_generations", .gauge, "Previous trees kept beside the target for rollback.") {
            for t in targets { $0.sample(["target": t.target], Double(t.generations.count)) }
        }
        out.family("smart_sync_local_versions_kept", .gauge, "Local versions kept in the store (smart-sync restore).") {
            for t in targets { $0.sample(["target": t.target], Double(t.keptVersions)) }
        }
        out.family("smart_sync_local_edits_pending", .gauge, "Synced files edited in place since the last scan.") {
            for t in targets { $0.sample(["target": t.target], Double(t.pendingEdits.count)) }
        }
        guard let store else { return out.text }
        // Per target, so that each target's file holds its own series; a file with no target holds them once.
        let labels = targets.isEmpty ? [["store": store]] : targets.map { ["target": $0.target, "store": store] }
        out.family("smart_sync_store_size_bytes", .gauge, "Disk usage of the object store.") {
            for l in labels { if let n = storeBytes { $0.sample(l, Double(n)) } }
        }
        out.family("smart_sync_gc_freed_bytes_total", .counter, "Bytes gc removed from the store (all its runs).") {
            for l in labels { $0.sample(l, Double(storeCounters?.gcFreedBytes ?? 0)) }
        }
        out.family("smart_sync_gc_runs_total", .counter, "gc runs on the store (not dry runs).") {
            for l in labels { $0.sample(l, Double(storeCounters?.gcRuns ?? 0)) }
        }
        return out.text
    }

    private static func traffic(
        _ t: TargetStatus, into family: inout MetricsText.Family, _ value: (HostTraffic) -> Double
    ) {
        for (transport, hosts) in t.counters.traffic.sorted(by: { $0.key < $1.key }) {
            for (host, traffic) in hosts.sorted(by: { $0.key < $1.key }) {
                family.sample(["target": t.target, "transport": transport, "host_kind": host], value(traffic))
            }
        }
    }
}
