import Foundation
import SmartSyncFetch
import SmartSyncFileSystem
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The run history, the counters and the metrics text: what `status` and `--metrics-file` are made of.
@Suite struct RunRecordTests {
    private func run(_ result: RunRecord.Result, code: String? = nil, at seconds: Double = 1_000) -> RunRecord {
        RunRecord(
            time: Date(timeIntervalSince1970: seconds), command: "sync", result: result,
            failure: code.map { .init(code: $0, message: "it failed", hint: "try again") }, transport: "raw",
            traffic: ["api": HostTraffic(requests: 2, bytes: 100), "raw": HostTraffic(requests: 3, bytes: 900)],
            objects: 3, seconds: 0.5)
    }

    @Test func theHistoryIsCappedAndSkipsATornLine() throws {
        let dir = try TemporaryDirectory(prefix: "history")
        let history = RunHistory(path: dir.appending("history"), limit: 3)
        for i in 0..<5 { try history.append(run(.ok, at: Double(i))) }
        #expect(try history.load().map(\.time.timeIntervalSince1970) == [2, 3, 4])
        // Half a record, as a crash mid-write leaves it: skipped, then closed off by the next append.
        let fd = open(dir.appending("history"), O_WRONLY | O_APPEND)
        _ = Array(#"{"command":"sy"#.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(try history.load().count == 3)
        try history.append(run(.failed, code: "network", at: 5))
        let loaded = try history.load()
        #expect(loaded.map(\.time.timeIntervalSince1970) == [3, 4, 5])
        #expect(loaded.last?.failure?.code == "network" && loaded.last?.bytes == 1000)
    }

    /// A full history is trimmed below its limit, so the appends after a trim append (the file stays, its inode with
    /// it) rather than each rewrite the whole log, as a trim to exactly the limit made every run do.
    @Test func aFullHistoryIsRewrittenOnceInAWhileNotOnEveryRun() throws {
        let dir = try TemporaryDirectory(prefix: "history")
        let path = dir.appending("history")
        let history = RunHistory(path: path, limit: 16)
        func inode() -> UInt { var s = stat(); return lstat(path, &s) == 0 ? UInt(s.st_ino) : 0 }
        for i in 0..<17 { try history.append(run(.ok, at: Double(i))) }
        #expect(try history.load().map(\.time.timeIntervalSince1970) == (3..<17).map(Double.init))  // 16 - 16 / 8
        let trimmed = inode()
        for i in 17..<19 { try history.append(run(.ok, at: Double(i))) }
        let count = try history.load().count
        #expect(inode() == trimmed && count == 16)
        try history.append(run(.ok, at: 19))
        #expect(inode() != trimmed)
        #expect(try history.load().map(\.time.timeIntervalSince1970) == (6..<20).map(Double.init))
    }

    /// A log's trim keeps at most its limit, however many ``LineLog/trimmedTo`` asks for, and never fewer than none.
    @Test func aLineLogsTrimIsClampedToItsLimit() throws {
        let dir = try TemporaryDirectory(prefix: "line-log")
        defer { dir.remove() }
        for (asked, kept) in [(9, 4), (-3, 0), (2, 2)] {
            var log = LineLog(path: dir.appending("log\(asked)"), limit: 4)
            log.trimmedTo = asked
            for i in 0..<5 { try log.append(["line \(i)"]) }
            #expect(try log.lines().map(String.init) == (5 - kept..<5).map { "line \($0)" }, "\(asked)")
        }
    }

    @Test func countersAddRunsAndSurviveAReload() throws {
        let dir = try TemporaryDirectory(prefix: "counters")
        let state = try StateStore(root: dir.path)
        var counters = state.loadCounters(target: "/srv/t")
        counters.add(run(.ok, at: 10))
        counters.add(run(.failed, code: "network", at: 20))
        counters.add(run(.failed, code: "network", at: 30))
        try state.saveCounters(counters)
        let loaded = state.loadCounters(target: "/srv/t")
        #expect(loaded == counters)
        #expect(loaded.consecutiveFailures == 2 && loaded.failures == ["network": 2])
        #expect(loaded.lastSuccess == Date(timeIntervalSince1970: 10))
        #expect(loaded.lastAttempt == Date(timeIntervalSince1970: 30))
        #expect(loaded.traffic["raw"]?["raw"] == HostTraffic(requests: 9, bytes: 2700))
        #expect(loaded.objects == ["raw": 9] && loaded.runs["sync"] == ["ok": 1, "failed": 2])
        // A file of a later version is not misread: the counters start over.
        var future = counters
        future.version = TargetCounters.currentVersion + 1
        try state.saveCounters(future)
        #expect(state.loadCounters(target: "/srv/t").runs.isEmpty)
    }

    @Test func theMetricsTextEscapesLabelsAndLeavesOutEmptyFamilies() throws {
        var counters = TargetCounters(target: "/srv/a \"quoted\"\\dir")
        counters.add(run(.failed, code: "http"))
        let status = TargetStatus(
            target: counters.target, key: "k", exists: true, state: nil, counters: counters, generations: [],
            keptVersions: 0, pendingEdits: [], storeBytes: nil)
        let text = MetricsFile.render([status], store: "/var/cache/smart-sync", storeBytes: 4096, storeCounters: nil)
        #expect(text.contains(#"smart_sync_failures_total{code="http",target="/srv/a \"quoted\"\\dir"} 1"#))
        #expect(text.contains("# TYPE smart_sync_failures_total counter\n"))
        // Never succeeded, never deployed: no such series, rather than a zero that reads as 1970.
        #expect(!text.contains("smart_sync_last_success_timestamp_seconds"))
        #expect(!text.contains("smart_sync_deployed_info"))
        #expect(text.contains(#"smart_sync_last_run_duration_seconds{target="/srv/a \"quoted\"\\dir"} 0.5"#))
        #expect(text.contains(#"smart_sync_store_size_bytes{store="/var/cache/smart-sync",target="#))
    }

    @Test func aFileWithNoTargetHoldsTheStoreSeriesOnce() {
        var store = StoreCounters.Entry()
        store.gcFreedBytes = 12_345
        store.gcRuns = 2
        let text = MetricsFile.render([], store: "/var/cache/smart-sync", storeBytes: 8192, storeCounters: store)
        #expect(
            text.split(separator: "\n").filter { !$0.hasPrefix("#") } == [
                #"smart_sync_store_size_bytes{store="/var/cache/smart-sync"} 8192"#,
                #"smart_sync_gc_freed_bytes_total{store="/var/cache/smart-sync"} 12345"#,
                #"smart_sync_gc_runs_total{store="/var/cache/smart-sync"} 2"#,
            ])
    }

    @Test func trafficByHostAddsUpAndBytesOfNoHostAreLocal() {
        var a = SourceStatistics()
        a.count(.api, requests: 2, bytes: 300)
        a.bytesReceived = 300
        var b = SourceStatistics()
        b.count(.git, requests: 1, bytes: 5_000)
        b.count(.api, requests: 1, bytes: 50)
        b.bytesReceived = 5_050
        let sum = a + b
        #expect(sum.byHost[.api] == HostTraffic(requests: 3, bytes: 350))
        #expect(sum.byHost[.git] == HostTraffic(requests: 1, bytes: 5_000))
        #expect(sum.since(a).byHost[.api] == HostTraffic(requests: 1, bytes: 50))
        #expect(
            RunRecord.traffic(of: sum) == [
                "api": HostTraffic(requests: 3, bytes: 350), "git": HostTraffic(requests: 1, bytes: 5_000),
            ])
        // A local repository's bytes went to no host.
        var local = SourceStatistics()
        local.bytesReceived = 42
        #expect(RunRecord.traffic(of: local) == ["local": HostTraffic(requests: 0, bytes: 42)])
    }
}
