import FoundationEssentials
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncPipeline

/// Prints `status`: aligned fields per target for a human (on stdout, each block in one write through
/// ``StandardStream``), or one JSON object per target and per run.
struct StatusView {
    let reporter: Reporter
    let json: Bool
    /// The store whose size is shown.
    let store: String
    var now = Date()

    /// Says that the state directory knows no target.
    func none(_ stateRoot: String) {
        if json { return }
        StandardStream.output.write(
            "no targets recorded in \(stateRoot) (give status the --state-dir that sync uses)\n")
    }

    func show(_ s: TargetStatus, first: Bool) {
        if json { return reporter.writeJSONLine(object(s)) }
        var rows: [(String, String)] = []
        if let state = s.state {
            let at = Self.date(ns: state.appliedAtNs)
            rows.append(("deployed", "\(state.commit.abbreviated()) (\(state.ref)), applied \(when(at))"))
        } else {
            rows.append(("deployed", "nothing synced yet"))
        }
        if !s.exists { rows.append(("", "the directory does not exist")) }
        let c = s.counters
        if let attempt = c.lastAttempt {
            var line = "\(c.lastCommand ?? "run") \(relative(attempt)): \(c.lastResult?.rawValue ?? "?")"
            line += ", \(c.lastDurationSeconds.fixed(2)) s"
            if c.consecutiveFailures > 1 { line += "; \(c.consecutiveFailures) failed runs in a row" }
            rows.append(("last run", line))
            if let f = c.lastFailure {
                rows.append(("", "error (\(f.code)): \(f.message)"))
                if let hint = f.hint { rows.append(("", "hint: \(hint)")) }
            }
            rows.append(("last success", c.lastSuccess.map(when) ?? "never"))
        } else {
            rows.append(("last run", "none recorded (runs before this release, or only dry runs)"))
        }
        let gens = s.generations.map { g in
            "#\(g.sequence) " + (g.commit.map { "\($0.prefix(12)) (\(g.ref ?? ""))" } ?? "(the tree found first)")
        }
        rows.append(
            ("generations", s.generations.isEmpty ? "none kept" : "\(gens.count): " + gens.joined(separator: ", ")))
        for g in s.generations {
            guard let since = g.lookPendingSinceNs, let mark = g.lookMark else { continue }
            rows.append(("", "#\(g.sequence): the look at its tree is pending since \(when(Self.date(ns: since)))"))
            rows.append(("", "the next sync keeps its edits; to give up, copy what you need and remove '\(mark)'"))
        }
        rows.append(
            ("local versions", s.keptVersions == 0 ? "none kept" : "\(s.keptVersions) kept (smart-sync restore)"))
        if s.pendingEdits.isEmpty {
            rows.append(("local edits", "none"))
        } else {
            let some = s.pendingEdits.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            let more = s.pendingEdits.count > 5 ? ", …" : ""
            rows.append(("local edits", "\(s.pendingEdits.count) pending: \(some)\(more)"))
            rows.append(("", "the next sync keeps them in the store and replaces them (--keep-local leaves them)"))
        }
        rows.append(("store", s.storeBytes.map { "\(Reporter.bytes($0)) in \(store)" } ?? "\(store) does not exist"))
        var text = first ? "" : "\n"
        text += s.target + "\n"
        let width = rows.map(\.0.count).max() ?? 0
        for (label, value) in rows {
            text += "  " + label.padded(to: width) + "  " + value + "\n"
        }
        StandardStream.output.write(text)
    }

    func history(_ runs: ArraySlice<RunRecord>, target: String) {
        if json {
            for r in runs { reporter.writeJSONLine(object(r, target: target)) }
            return
        }
        guard !runs.isEmpty else { return StandardStream.output.write("\n  no runs recorded\n") }
        var table = [["TIME", "COMMAND", "RESULT", "FROM", "TO", "BYTES", "DURATION", "ERROR"]]
        for r in runs {
            table.append([
                Self.timestamp(r.time), r.command, r.result.rawValue,
                r.from.map { String($0.prefix(12)) } ?? "-",
                r.to.map { String($0.prefix(12)) } ?? "-", Reporter.bytes(r.bytes), "\(r.seconds.fixed(2)) s",
                r.failure.map { "\($0.code): \($0.message)" } ?? "",
            ])
        }
        let widths = (0..<8).map { col in table.map { $0[col].count }.max() ?? 0 }
        var text = "\n"
        for row in table {
            let cells = row.enumerated().map { $1.padded(to: widths[$0]) }
            var line = "  " + cells.joined(separator: "  ")
            while line.hasSuffix(" ") { line.removeLast() }
            text += line + "\n"
        }
        StandardStream.output.write(text)
    }

    // MARK: - Times

    /// The date `ns` nanoseconds after the epoch.
    static func date(ns: Int64) -> Date { Date(timeIntervalSince1970: Double(ns) / 1e9) }

    /// "3 min ago (2026-12-06 19:05:40 UTC)".
    func when(_ date: Date) -> String { "\(relative(date)) (\(Self.timestamp(date)))" }

    /// "just now", "42 s ago", "3 min ago", "5 h ago", "2 days ago", "in the future".
    func relative(_ date: Date) -> String {
        let seconds = Int(now.timeIntervalSince(date).rounded())
        switch seconds {
        case ..<(-5): return "in the future"
        case ..<5: return "just now"
        case ..<60: return "\(seconds) s ago"
        case ..<3600: return "\(seconds / 60) min ago"
        case ..<(48 * 3600): return "\(seconds / 3600) h ago"
        default: return "\(seconds / 86400) days ago"
        }
    }

    /// Local time, as an operator's clock shows it.
    static func timestamp(_ date: Date) -> String { LocalTime.string(secondsSince1970: date.timeIntervalSince1970) }

    // MARK: - JSON

    func object(_ s: TargetStatus) -> [String: Any] {
        var o: [String: Any] = [
            "event": "status", "target": s.target, "key": s.key, "exists": s.exists,
            "consecutiveFailures": s.counters.consecutiveFailures, "keptVersions": s.keptVersions,
            "pendingEdits": s.pendingEdits.count, "pendingEditPaths": s.pendingEdits.prefix(100).map(\.description),
            "generations": s.generations.map { g -> [String: Any] in
                var o: [String: Any] = ["sequence": g.sequence]
                if let c = g.commit { o["commit"] = c }
                if let r = g.ref { o["ref"] = r }
                if let since = g.lookPendingSinceNs, let mark = g.lookMark {
                    o["pendingLook"] = mark
                    o["pendingLookSince"] = Self.date(ns: since).iso8601Seconds
                }
                return o
            },
            "store": store,
        ]
        if let st = s.state {
            o["commit"] = st.commit.hex
            o["ref"] = st.ref
            o["appliedAt"] = Self.date(ns: st.appliedAtNs).iso8601Seconds
        }
        let c = s.counters
        if let d = c.lastAttempt { o["lastAttempt"] = d.iso8601Seconds }
        if let d = c.lastSuccess { o["lastSuccess"] = d.iso8601Seconds }
        if let v = c.lastCommand { o["lastCommand"] = v }
        if let v = c.lastResult { o["lastResult"] = v.rawValue }
        if let f = c.lastFailure { o["lastError"] = failure(f) }
        if c.lastAttempt != nil { o["lastDurationSeconds"] = c.lastDurationSeconds }
        if let n = s.storeBytes { o["storeBytes"] = n }
        return o
    }

    func object(_ r: RunRecord, target: String) -> [String: Any] {
        var o: [String: Any] = [
            "event": "run", "target": target, "time": r.time.iso8601Seconds, "command": r.command,
            "result": r.result.rawValue, "bytes": r.bytes, "seconds": r.seconds, "objects": r.objects,
        ]
        if let v = r.ref { o["ref"] = v }
        if let v = r.from { o["from"] = v }
        if let v = r.to { o["to"] = v }
        if let v = r.transport { o["transport"] = v }
        if let f = r.failure { o["error"] = failure(f) }
        return o
    }

    private func failure(_ f: RunRecord.Failure) -> [String: Any] {
        var o: [String: Any] = ["code": f.code, "message": f.message]
        if let h = f.hint { o["hint"] = h }
        return o
    }
}
