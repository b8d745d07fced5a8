import Foundation
import TestSupport
import Testing

/// `--metrics-file`: the Prometheus textfile after a sync, a failed sync and a rollback, read back and linted by
/// promtool; the shipped alerting rules checked and unit-tested by promtool.
@Suite("metrics file and alerting rules", .serialized)
struct MetricsEndToEndTests {
    /// promtool (Debian's `prometheus` package, installed by .ci/run), or nil with the reason printed.
    static let promtool: String? = {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"]
        where FileManager.default.isExecutableFile(atPath: dir + "/promtool") {
            return dir + "/promtool"
        }
        print("promtool not found (Debian package prometheus; .ci/run installs it): its checks are skipped")
        return nil
    }()

    private func promtool(_ args: [String], input: String? = nil) throws -> ProcessResult? {
        guard let promtool = Self.promtool else { return nil }
        return try ProcessRunner.run(
            promtool, args, currentDirectory: SmartSyncBinary.packageRoot + "/dist/prometheus",
            input: input.map { Array($0.utf8) }, check: false)
    }

    private func metrics(_ s: Scenario) -> String { s.root + "/textfile/smart-sync.prom" }

    private func distinctBlobs(_ s: Scenario, _ commit: String) throws -> Int {
        let listing = try s.repo.git("ls-tree", "-r", commit)
        return Set(listing.split(separator: "\n").map { $0.split(separator: " ")[2].prefix(40) }).count
    }

    @Test func theFileCountsASyncAFailureAndARollbackAndPassesPromtool() throws {
        let s = try Scenario()
        try FileManager.default.createDirectory(atPath: s.root + "/textfile", withIntermediateDirectories: true)
        let file = metrics(s)
        let target = s.target
        let a = try Fixtures.commitA(s.repo)

        // A sync under a strict umask: the file is still world-readable (node_exporter runs as another user).
        let old = umask(0o077)
        let first = try s.run("sync", ["--metrics-file", file])
        umask(old)
        #expect(first.status == 0, "\(first.stderrString)")
        let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o644)
        var m = try MetricsFileSample(path: file)
        let t = ["target": target]
        let success = try #require(m.value("smart_sync_last_success_timestamp_seconds", t))
        #expect(m.value("smart_sync_last_attempt_timestamp_seconds", t) == success)
        #expect(abs(success - Date().timeIntervalSince1970) < 600)
        #expect(m.value("smart_sync_deployed_info", t.merging(["commit": a]) { $1 }) == 1)
        #expect(m.value("smart_sync_runs_total", t.merging(["command": "sync", "result": "ok"]) { $1 }) == 1)
        #expect(m.value("smart_sync_consecutive_failures", t) == 0)
        #expect(m.value("smart_sync_rollbacks_total", t) == 0)
        let raw = t.merging(["transport": "raw", "host_kind": "raw"]) { $1 }
        let api = t.merging(["transport": "raw", "host_kind": "api"]) { $1 }
        let blobs = try distinctBlobs(s, a)
        #expect(m.value("smart_sync_requests_total", raw) == Double(blobs))
        #expect((m.value("smart_sync_requests_total", api) ?? 0) >= 2)
        #expect((m.value("smart_sync_received_bytes_total", raw) ?? 0) > 70_000)
        #expect(m.value("smart_sync_objects_fetched_total", t.merging(["transport": "raw"]) { $1 }) == Double(blobs))
        #expect((m.value("smart_sync_store_size_bytes", t) ?? 0) > 70_000)
        #expect(m.types["smart_sync_requests_total"] == "counter" && m.types["smart_sync_deployed_info"] == "gauge")
        if let lint = try promtool(["check", "metrics"], input: try String(contentsOfFile: file, encoding: .utf8)) {
            #expect(lint.status == 0, "\(lint.stdoutString)\(lint.stderrString)")
        }
        let apiAfterFirst = m.value("smart_sync_requests_total", api) ?? 0

        // A failed run: exit code as ever, the attempt and the failure counted, the deployed commit unchanged.
        let failed = try s.run("sync", ["--metrics-file", file, "--ref", "no-such-branch"])
        #expect(failed.status == 4, "\(failed.stderrString)")
        m = try MetricsFileSample(path: file)
        #expect(m.value("smart_sync_last_success_timestamp_seconds", t) == success)
        #expect((m.value("smart_sync_last_attempt_timestamp_seconds", t) ?? 0) >= success)
        #expect(m.value("smart_sync_failures_total", t.merging(["code": "not-found"]) { $1 }) == 1)
        #expect(m.value("smart_sync_runs_total", t.merging(["command": "sync", "result": "failed"]) { $1 }) == 1)
        #expect(m.value("smart_sync_consecutive_failures", t) == 1)
        #expect(m.value("smart_sync_deployed_info", t.merging(["commit": a]) { $1 }) == 1)
        #expect((m.value("smart_sync_requests_total", api) ?? 0) > apiAfterFirst)

        // B, then a rollback to A: counted, and the deployed commit follows.
        let b = try Fixtures.commitB(s.repo)
        #expect(try s.run("sync", ["--metrics-file", file]).status == 0)
        m = try MetricsFileSample(path: file)
        #expect(m.value("smart_sync_deployed_info", t.merging(["commit": b]) { $1 }) == 1)
        #expect(m.value("smart_sync_consecutive_failures", t) == 0)
        #expect(m.value("smart_sync_generations", t) == 1)
        let rollback = try SmartSyncBinary.run(
            ["rollback", "--target", target, "--state-dir", s.stateDir, "--store", s.store, "--metrics-file", file],
            environment: s.environment(), check: false)
        #expect(rollback.status == 0, "\(rollback.stderrString)")
        m = try MetricsFileSample(path: file)
        #expect(m.value("smart_sync_rollbacks_total", t) == 1)
        #expect(m.value("smart_sync_runs_total", t.merging(["command": "rollback", "result": "ok"]) { $1 }) == 1)
        #expect(m.value("smart_sync_runs_total", t.merging(["command": "sync", "result": "ok"]) { $1 }) == 2)
        #expect(m.value("smart_sync_deployed_info", t.merging(["commit": a]) { $1 }) == 1)
        #expect(m.all("smart_sync_deployed_info").count == 1)
        #expect(m.value("smart_sync_local_edits_pending", t) == 0)
        if let lint = try promtool(["check", "metrics"], input: try String(contentsOfFile: file, encoding: .utf8)) {
            #expect(lint.status == 0, "\(lint.stdoutString)\(lint.stderrString)")
        }
    }

    @Test func gcCountsTheBytesItFreesAndTwoTargetsShareOneFile() throws {
        let s = try Scenario()
        try FileManager.default.createDirectory(atPath: s.root + "/textfile", withIntermediateDirectories: true)
        let file = metrics(s)
        let a = try Fixtures.commitA(s.repo)
        _ = try Fixtures.commitB(s.repo)
        let second = s.root + "/second"
        #expect(try s.run("sync", ["--metrics-file", file, "--ref", a]).status == 0)
        #expect(try s.run("sync", ["--metrics-file", file], target: second).status == 0)
        var m = try MetricsFileSample(path: file)
        let targets = m.all("smart_sync_deployed_info").map { $0.labels["target"] ?? "" }
        #expect(targets.sorted() == [second, s.target].sorted())

        // The second target goes away; gc forgets it, frees what only it used, and counts the bytes.
        try FileManager.default.removeItem(atPath: second)
        try? FileManager.default.removeItem(atPath: s.root + "/.second.smart-sync")
        let gc = try SmartSyncBinary.run(
            [
                "gc", "--store", s.store, "--state-dir", s.stateDir, "--grace", "0", "--keep-local-age", "0",
                "--metrics-file", file,
            ],
            environment: s.environment(), check: false)
        #expect(gc.status == 0, "\(gc.stderrString)")
        m = try MetricsFileSample(path: file)
        #expect(m.all("smart_sync_deployed_info").map { $0.labels["target"] ?? "" } == [s.target])
        let freed = try #require(m.value("smart_sync_gc_freed_bytes_total", ["target": s.target, "store": s.store]))
        #expect(freed > 0)
        #expect(m.value("smart_sync_gc_runs_total", ["target": s.target]) == 1)
    }

    @Test func anUpdateThatRollsBackCountsAsARollbackAndAFailure() throws {
        let t = try UpdateSetup()
        let file = t.s.root + "/update.prom"
        let r = try t.update(["--metrics-file", file], env: "FAIL_ON=enp3s0")
        #expect(r.status == 1, "\(r.stderrString)")
        let m = try MetricsFileSample(path: file)
        let target = ["target": t.s.target]
        #expect(m.value("smart_sync_rollbacks_total", target) == 1)
        let rolledBack = target.merging(["command": "update", "result": "rolled back"]) { $1 }
        #expect(m.value("smart_sync_runs_total", rolledBack) == 1)
        #expect(
            m.value("smart_sync_failures_total", target.merging(["code": "command-failed"]) { $1 }) == 1, "\(m.samples)"
        )
        #expect(m.value("smart_sync_deployed_info", target.merging(["commit": t.a]) { $1 }) == 1)
        #expect(m.value("smart_sync_consecutive_failures", target) == 1)
    }

    @Test func theShippedRulesPassPromtoolAndTheirTestsFireAndDoNotFire() throws {
        guard let check = try promtool(["check", "rules", "smart-sync.rules.yml"]) else { return }
        #expect(check.status == 0, "\(check.stdoutString)\(check.stderrString)")
        #expect(check.stdoutString.contains("5 rules found"))
        let test = try #require(try promtool(["test", "rules", "smart-sync.rules.test.yml"]))
        #expect(test.status == 0, "\(test.stdoutString)\(test.stderrString)")
        // The test file holds a firing and a quiet case for every alert of the rules file.
        let rules = try String(
            contentsOfFile: SmartSyncBinary.packageRoot + "/dist/prometheus/smart-sync.rules.yml", encoding: .utf8)
        let tests = try String(
            contentsOfFile: SmartSyncBinary.packageRoot + "/dist/prometheus/smart-sync.rules.test.yml", encoding: .utf8)
        for line in rules.split(separator: "\n") where line.contains("- alert: ") {
            let name = line.split(separator: " ").last!
            #expect(
                tests.components(separatedBy: "alertname: \(name)\n").count - 1 >= 2, "\(name) is not tested both ways")
        }
    }
}
