import Foundation
import TestSupport
import Testing

/// `-v`: what each stage did goes to stderr (requests, decisions, timings); never a token, never on stdout.
@Suite("verbose log", .serialized)
struct VerboseLogEndToEndTests {
    static let token = "ghp_VERBOSELOGTOKENVERBOSELOG"

    /// The log lines of a run's stderr (`TIME LEVEL [module] …`).
    private func logLines(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.contains(" debug [") || $0.contains(" trace [") }
    }

    /// The stages a run logged a time for (`stage=NAME`).
    private func stages(_ lines: [Substring]) -> Set<String> {
        Set(
            lines.compactMap { line in
                guard line.contains("] stage "), let range = line.range(of: " stage=") else { return nil }
                return String(line[range.upperBound...].prefix { $0 != " " })
            })
    }

    @Test func verboseSyncLogsRequestsDecisionsAndStageTimes() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let cold = try s.run("sync", ["-v"])
        #expect(cold.status == 0, "\(cold.stderrString)")
        try s.expectTargetEqualsArchive(a)
        let coldLog = logLines(cold.stderrString)
        // Each request: method, URL, status, bytes, time, the host's kind.
        let api = coldLog.filter { $0.contains("[transfer] GET \(s.server.apiURL)/repos/acme/hyper/") }
        #expect(!api.isEmpty, "\(cold.stderrString)")
        #expect(
            api.allSatisfy {
                $0.contains(" kind=api") && $0.contains(" status=") && $0.contains(" ms=") && $0.contains(" bytes=")
            },
            "\(api)")
        let raw = coldLog.filter { $0.contains("[transfer] GET \(s.server.rawURL)/acme/hyper/\(a)/") }
        #expect(raw.count == (try s.rawRequests()).count, "\(cold.stderrString)")
        #expect(raw.allSatisfy { $0.contains("→ 200") && $0.contains(" kind=raw") }, "\(raw)")
        // The transport and why, the ref's commit, the plan, the fetch.
        #expect(coldLog.contains { $0.contains("transport raw: --transport raw") }, "\(cold.stderrString)")
        #expect(coldLog.contains { $0.contains("ref HEAD → commit \(a)") }, "\(cold.stderrString)")
        #expect(coldLog.contains { $0.contains("[pipeline] plan: ") && $0.contains(" toFetch=") })
        #expect(coldLog.contains { $0.contains("[pipeline] fetch: ") && $0.contains("no fallback") })
        #expect(coldLog.contains { $0.contains("a new target, its tree built from the store") })
        #expect(
            coldLog.contains { $0.contains("a spare tree of ") && $0.contains(" hard links") }, "\(cold.stderrString)")
        let coldStages = stages(coldLog)
        #expect(
            coldStages.isSuperset(of: [
                "lock", "resolve", "listing", "scan", "plan", "fetch", "stage", "apply", "state",
            ]),
            "\(coldStages)")

        // An update: the exchange, the spare tree (the cold sync's) recycled, the prune, each timed.
        let b = try Fixtures.commitB(s.repo)
        let update = try s.run("sync", ["-v"])
        #expect(update.status == 0, "\(update.stderrString)")
        try s.expectTargetEqualsArchive(b)
        let updateLog = logLines(update.stderrString)
        #expect(
            stages(updateLog).isSuperset(of: ["stage", "carry", "exchange", "prune", "state"]), "\(update.stderrString)"
        )
        #expect(
            updateLog.contains { $0.contains("apply: the spare tree recycled as the stage") },
            "\(update.stderrString)")
        // The ref was asked again conditionally.
        #expect(updateLog.contains { $0.contains("/commits/HEAD → 200") && $0.contains(" conditional=yes") })

        // Unchanged: a 304 from the validator cache, and no fetch.
        let noop = try s.run("sync", ["-v"])
        #expect(noop.status == 0, "\(noop.stderrString)")
        let noopLog = logLines(noop.stderrString)
        #expect(
            noopLog.contains { $0.contains("/commits/HEAD → 304") && $0.contains(" bytes=0") }, "\(noop.stderrString)")
        #expect(noopLog.contains { $0.contains("unchanged (304), the cached answer stands") })
        #expect(noopLog.contains { $0.contains("listing: the target's manifest of this commit") })
        #expect(!stages(noopLog).contains("fetch"))
    }

    @Test func aFallbackIsLoggedWithItsReason() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        // The git host answers 503 to everything: --transport auto goes to the per-blob path.
        try s.server.setFaults(#"[{"match": {"listener": "git"}, "action": {"status": 503}}]"#)
        let r = try s.run("sync", ["-v", "--transport", "auto", "--retries", "0"])
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        let log = logLines(r.stderrString)
        #expect(log.contains { $0.contains("info/refs?service=git-upload-pack → 503") && $0.contains(" kind=git") })
        #expect(
            log.contains {
                $0.contains("ref HEAD → commit \(a)") && $0.contains("fallback=\"the pack transport failed")
            },
            "\(r.stderrString)")
        #expect(log.contains { $0.contains("fetch: ") && $0.contains("(fell back: the pack transport failed") })
        #expect(log.contains { $0.contains("/git/trees/\(a)") && $0.contains(" kind=api") })
    }

    @Test func withoutVerboseStderrHasNoLog() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        let r = try s.run("sync")
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(logLines(r.stderrString).isEmpty, "\(r.stderrString)")
        #expect(!r.stderrString.contains("[transfer]") && !r.stderrString.contains(" stage="), "\(r.stderrString)")
        #expect(!r.stderrString.contains(s.server.apiURL), "\(r.stderrString)")
    }

    @Test func jsonWithVerboseKeepsStdoutNDJSON() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let r = try s.run("sync", ["--json", "-vv"])
        #expect(r.status == 0, "\(r.stderrString)")
        let lines = r.stdoutString.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["event"] != nil, "not an NDJSON event: \(line)")
        }
        #expect(try Scenario.summary(r)["commit"] as? String == a)
        #expect(!r.stdoutString.contains("[transfer]"))
        #expect(logLines(r.stderrString).contains { $0.contains("[transfer] GET ") }, "\(r.stderrString)")
    }

    /// The token (and the Basic value the git host gets) in no line of either stream, with every request logged:
    /// REST and raw with `Bearer`, packs with Basic, both ways through `--transport auto`.
    @Test(arguments: ["raw", "auto"])
    func theTokenIsNeverLogged(_ transport: String) throws {
        let s = try Scenario(token: Self.token, privateRepo: true)
        let a = try Fixtures.commitA(s.repo)
        let r = try s.run("sync", ["-vv", "--transport", transport], token: Self.token)
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        // The token was sent (so it could have leaked), and the requests were logged.
        let sent = try s.server.requests()
        #expect(!sent.isEmpty && sent.allSatisfy { $0.hadAuthorization || $0.status == 401 }, "\(sent.map(\.path))")
        let log = logLines(r.stderrString)
        #expect(log.filter { $0.contains("[transfer] ") }.count >= sent.count, "\(r.stderrString)")
        let basic = Data(("x-access-token:" + Self.token).utf8).base64EncodedString()
        for secret in [Self.token, String(Self.token.dropFirst(4)), basic, "Bearer", "Basic "] {
            #expect(!r.stderrString.contains(secret), "'\(secret)' in stderr")
            #expect(!r.stdoutString.contains(secret), "'\(secret)' in stdout")
        }
        if transport == "auto" {
            #expect(log.contains { $0.contains("transport pack: --transport auto") }, "\(r.stderrString)")
            #expect(log.contains { $0.contains("not cached, asking info/refs") && $0.contains("capabilityCache=miss") })
            #expect(log.contains { $0.contains("/git-upload-pack → 200") && $0.contains(" kind=git") })
            #expect(log.contains { $0.contains("pack for commit ") && $0.contains(" objects imported") })
            // The next run takes the server's capabilities from the cache.
            _ = try Fixtures.commitB(s.repo)
            let again = try s.run("sync", ["-v", "--transport", transport], token: Self.token)
            #expect(again.status == 0, "\(again.stderrString)")
            #expect(
                logLines(again.stderrString).contains { $0.contains("capabilityCache=hit") }, "\(again.stderrString)")
            #expect(!again.stderrString.contains(Self.token) && !again.stderrString.contains(basic))
        }
    }
}
