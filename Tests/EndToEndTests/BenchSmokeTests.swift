import Foundation
import TestSupport
import Testing

/// `tools/bench --smoke`: the transport benchmark harness on a tiny scenario (loopback, one repetition; cold,
/// update and no-op; smart-sync raw and pack, git clone / fetch + checkout / status, curl), served over TLS with a
/// test CA as the real benchmarks are, so CI proves the harness works without running the benchmarks; and the fleet
/// scenario with 3 hosts (publish, an nginx cache, 3 concurrent smart-sync hosts and 3 git ones, cold and update).
/// A target that differs from the commit's tree fails it.
@Suite("tools/bench smoke run")
struct BenchSmokeTests {
    static var serversInstalled: Bool {
        [
            "/usr/sbin/nginx", "/usr/sbin/fcgiwrap", "/usr/lib/git-core/git-http-backend", "/usr/bin/openssl",
            "/usr/bin/ssh-keygen",
        ].allSatisfy {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    @Test(.enabled(if: serversInstalled, "needs nginx, fcgiwrap, git-http-backend and ssh-keygen"))
    func smokeRunSucceeds() throws {
        let scratch = try TemporaryDirectory(prefix: "bench-smoke")
        let result = try ProcessRunner.run(
            "python3",
            [
                SmartSyncBinary.packageRoot + "/tools/bench", "--smoke", "--binary", try SmartSyncBinary.path(),
                "--json", scratch.appending("results.json"),
            ],
            environment: ["GH_TOKEN": nil, "GITHUB_TOKEN": nil], check: false)
        #expect(result.succeeded, "tools/bench --smoke failed:\n\(result.stdoutString)\n\(result.stderrString)")
        #expect(result.stdoutString.contains("smoke: ok"))
        // The fleet scenario ran (not skipped): its table has the smart-sync rows of 3 hosts, cold and update.
        #expect(result.stdoutString.contains("| cold | 3 | smart-sync |"), "\(result.stdoutString.suffix(3000))")
        #expect(result.stdoutString.contains("| update | 3 | smart-sync |"))
    }
}
