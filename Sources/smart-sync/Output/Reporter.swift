import FoundationEssentials
import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncPipeline
import Synchronization

/// Turns run events into output: NDJSON on stdout with `--json`; otherwise a live progress line on a TTY
/// (throttled, on stderr) or plain lines when stderr is not a terminal.
final class Reporter: Sendable {
    enum Mode { case json, tty, plain, quiet }

    let mode: Mode
    /// The configured target this reporter speaks for (`sync --all`): every JSON event carries it as `"name"`.
    let targetName: String?
    private let state = Mutex(ProgressState())

    private struct ProgressState {
        var lastDraw = Date.distantPast
        var lineShown = false
        var lastPlainPercent = -1
        /// When the first download progress arrived: the rate and ETA count from here, not from start-up.
        var fetchStart: Date?
        /// True once a `summary` event was written.
        var summaryWritten = false
    }

    init(json: Bool, quiet: Bool, name: String? = nil) {
        targetName = name
        if json {
            mode = .json
        } else if quiet {
            mode = .quiet
        } else {
            mode = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb" ? .tty : .plain
        }
    }

    /// Handles one event; safe from any thread.
    func handle(_ event: SyncEvent) {
        switch mode {
        case .json: emitJSON(event)
        case .quiet: break
        case .tty, .plain: emitHuman(event)
        }
    }

    /// Prints the final summary.
    func finish(_ summary: SyncSummary) {
        switch mode {
        case .json:
            var object = Self.jsonObject(summary)
            object["event"] = "summary"
            writeJSON(object)
        case .quiet:
            break
        case .tty, .plain:
            clearLine()
            let kinds = summary.plan.counts.filter { $0.key != "unchanged" }.sorted { $0.key < $1.key }
                .map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            let verb = summary.command == "plan" || summary.dryRun ? "would change" : "changed"
            var line = "\(summary.command): \(summary.ref) → \(summary.commit.prefix(12))"
            if summary.command != "warm" { line += summary.plan.upToDate ? "; up to date" : "; \(verb): \(kinds)" }
            if !summary.transport.hasPrefix("pack") {
                line +=
                    "; fetched \(summary.blobsFetched) blob\(summary.blobsFetched == 1 ? "" : "s") "
                    + "(\(Self.bytes(summary.bytesReceived)))"
            }
            if summary.transport == "local" {
                line += " from the local repository"
            } else if summary.transport == "clone" {
                line += " from a shallow clone (\(Self.bytes(summary.requests.bytesReceived)) received)"
                let api = summary.requests.apiRequests
                if api > 0 { line += "; \(api) API request\(api == 1 ? "" : "s") before the fallback" }
            } else if summary.transport.hasPrefix("pack") {
                // Blobs mostly arrive with the trees, in the listing's pack: count objects and bytes on the wire.
                let r = summary.requests
                line += "; received \(r.packObjects) object\(r.packObjects == 1 ? "" : "s")"
                line += " in \(r.packRequests) pack\(r.packRequests == 1 ? "" : "s")"
                if summary.transport == "pack+raw" {
                    line += " and \(r.blobRequests) large blob\(r.blobRequests == 1 ? "" : "s") one per request"
                }
                let requests = r.apiRequests + r.packRequests + r.blobRequests
                line += " (\(Self.bytes(r.bytesReceived)) in \(requests) request\(requests == 1 ? "" : "s"))"
            } else {
                line += "; \(summary.requests.apiRequests) API request\(summary.requests.apiRequests == 1 ? "" : "s")"
                if summary.requests.notModified > 0 { line += " (\(summary.requests.notModified) not modified)" }
                line +=
                    ", \(summary.requests.blobRequests) blob request\(summary.requests.blobRequests == 1 ? "" : "s")"
            }
            if let signer = summary.commitChecks?.signer {
                line += "; signed by \(signer.principal) (\(signer.fingerprint))"
            }
            line += "; \(summary.seconds.fixed(2)) s"
            if !summary.kept.isEmpty {
                let n = summary.kept.count
                let names = summary.kept.prefix(10).map(\.path).joined(separator: ", ") + (n > 10 ? ", …" : "")
                line +=
                    "\nkept \(n) local version\(n == 1 ? "" : "s"): \(names) — restore with `smart-sync restore PATH "
                    + "--target \(summary.target ?? "DIR")`"
            }
            StandardStream.error.write(line + "\n")
        }
    }

    /// Prints an error for the operator; `switched`: the target holds the new tree all the same (exit code 8).
    func fail(_ error: SmartSyncError, switched: Bool = false) {
        if mode == .json {
            var object: [String: Any] = ["event": "error", "code": error.code.description, "message": error.message]
            if let hint = error.hint { object["hint"] = hint }
            if switched { object["switched"] = true }
            writeJSON(object)
        }
        clearLine()
        StandardStream.error.write("smart-sync: error: \(error.text)\n")
    }

    // MARK: - Human output

    private func emitHuman(_ event: SyncEvent) {
        switch event {
        case .resolved(let ref):
            line("resolved \(ref.name) → \(ref.commit.hex)")
        case .listed(_, let entries, let verified):
            line("tree: \(entries) entries\(verified ? ", verified against the commit's tree id" : "")")
        case .scanned(let files, let hashed, let hits):
            line("target: \(files) entries scanned (\(hits) from the stat cache, \(hashed) hashed)")
        case .planned(let plan):
            if plan.upToDate {
                line("plan: up to date")
            } else {
                let kinds = plan.counts.filter { $0.key != "unchanged" }.sorted { $0.key < $1.key }
                    .map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                var text =
                    "plan: \(kinds); \(plan.blobsToFetch) blob\(plan.blobsToFetch == 1 ? "" : "s") to fetch"
                    + Self.fetchSize(plan)
                if !plan.localEdits.isEmpty {
                    let some = plan.localEdits.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
                    text += "; \(plan.localEdits.count) local edit\(plan.localEdits.count == 1 ? "" : "s") ("
                    text += some + (plan.localEdits.count > 3 ? ", …" : "") + ") kept and replaced by the commit's"
                }
                line(text)
            }
        case .progress(let done, let total, let bytes, let bytesTotal):
            progress(done: done, total: total, bytes: bytes, bytesTotal: bytesTotal)
        case .applied(let target, let commit):
            line("applied \(commit.abbreviated()) to \(target)")
        case .warning(let text):
            line("warning: \(text)")
        }
    }

    private func progress(done: Int, total: Int, bytes: Int, bytesTotal: Int?) {
        let fetchStart = state.withLock { s in
            if s.fetchStart == nil { s.fetchStart = Date() }
            return s.fetchStart!
        }
        let elapsed = max(Date().timeIntervalSince(fetchStart), 0.001)
        let rate = Double(bytes) / elapsed
        var text = "fetching \(done)/\(total) files  \(Self.bytes(bytes))"
        if let bytesTotal, bytesTotal > 0 { text += "/\(Self.bytes(bytesTotal))" }
        text += "  \(Self.bytes(Int(rate)))/s"
        if let bytesTotal, rate > 0, bytesTotal > bytes {
            // Capped: a size is the source's word, and a tiny rate makes any left-over a huge number of seconds.
            let eta = min((Double(bytesTotal - bytes) / rate).rounded(.up), 1e9)
            text += "  ETA \(Int(eta)) s"
        }
        let finished = done == total
        state.withLock { s in
            let now = Date()
            if mode == .tty {
                guard finished || now.timeIntervalSince(s.lastDraw) >= 0.1 else { return }
                s.lastDraw = now
                s.lineShown = true
                StandardStream.error.write("\r\u{1B}[K" + text)
            } else {
                // Plain output: a line at each 25 % step, never a carriage-return animation.
                let percent = total == 0 ? 100 : done * 100 / total
                guard percent / 25 > s.lastPlainPercent / 25 || (finished && s.lastPlainPercent < 100) else { return }
                s.lastPlainPercent = percent
                StandardStream.error.write(text + "\n")
            }
        }
    }

    /// Prints one human line on stderr (clearing the progress line first); nothing with `--json` or `--quiet`.
    func note(_ text: String) {
        if mode == .tty || mode == .plain { line(text) }
    }

    /// Prints one log line on stderr (clearing the progress line first), whatever the mode: `-v` asked for it, and
    /// stdout stays the NDJSON stream of `--json`.
    func logLine(_ text: String) {
        line(text)
    }

    private func line(_ text: String) {
        clearLine()
        StandardStream.error.write(text + "\n")
    }

    private func clearLine() {
        state.withLock { s in
            if s.lineShown {
                StandardStream.error.write("\r\u{1B}[K")
                s.lineShown = false
            }
        }
    }

    /// " (80 B)", " (80 B and 2 of unknown size)", " (size unknown)", or nothing when there is nothing to fetch.
    static func fetchSize(_ plan: PlanSummary) -> String {
        guard plan.blobsToFetch > 0 else { return "" }
        switch plan.blobsOfUnknownSize {
        case 0: return " (\(bytes(plan.bytesToFetch)))"
        case plan.blobsToFetch: return " (size unknown)"
        case let n: return " (\(bytes(plan.bytesToFetch)) and \(n) of unknown size)"
        }
    }

    static func bytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(n)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(n) B" : "\(value.fixed(1)) \(units[unit])"
    }

    // MARK: - JSON output

    private func emitJSON(_ event: SyncEvent) {
        switch event {
        case .resolved(let ref):
            writeJSON(["event": "resolved", "ref": ref.name, "commit": ref.commit.hex])
        case .listed(let commit, let entries, let verified):
            writeJSON(["event": "listed", "commit": commit.hex, "entries": entries, "verified": verified])
        case .scanned(let files, let hashed, let hits):
            writeJSON(["event": "scanned", "files": files, "hashed": hashed, "cacheHits": hits])
        case .planned(let plan):
            var object = Self.jsonObject(plan)
            object["event"] = "planned"
            writeJSON(object)
        case .progress(let done, let total, let bytes, let bytesTotal):
            guard done == total || done % 64 == 0 else { return }
            var object: [String: Any] = [
                "event": "progress", "blobsDone": done, "blobsTotal": total, "bytesDone": bytes,
            ]
            if let bytesTotal { object["bytesTotal"] = bytesTotal }
            writeJSON(object)
        case .applied(let target, let commit):
            writeJSON(["event": "applied", "target": target, "commit": commit.hex])
        case .warning(let text):
            writeJSON(["event": "warning", "message": text])
        }
    }

    private static func jsonObject(_ value: some Encodable) -> [String: Any] {
        guard let data = try? JSONEncoder().encode(value),
            let object = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue
        else { return [:] }
        return object
    }

    func writeJSONLine(_ object: [String: Any]) { writeJSON(object) }

    /// True once a JSON `summary` event was written.
    var wroteSummary: Bool { state.withLock { $0.summaryWritten } }

    private func writeJSON(_ object: [String: Any]) {
        var object = object
        if let targetName, object["name"] == nil { object["name"] = targetName }
        guard let text = JSONValue(any: object)?.serialized() else {
            // A value JSON cannot hold (an integer over Int64.max, a type of no JSON form): a bug of the caller's.
            assertionFailure("a --json event holds a value JSON cannot hold: \(object)")
            return
        }
        state.withLock { s in
            if object["event"] as? String == "summary" { s.summaryWritten = true }
            StandardStream.output.write(text + "\n")
        }
    }
}

extension Reporter {
    /// Prints one line (or JSON event) per change that is not `unchanged`.
    func listChanges(_ plan: Plan) {
        for c in plan.changes where c.kind != .unchanged {
            switch mode {
            case .json:
                var object: [String: Any] = ["event": "change", "kind": c.kind.rawValue, "path": c.path.description]
                if let id = c.id { object["id"] = id.hex }
                if let mode = c.mode { object["mode"] = mode.description }
                if let note = c.note { object["note"] = note }
                writeJSONLine(object)
            case .quiet:
                break
            case .tty, .plain:
                let text = "  \(c.kind.rawValue.padded(to: 11)) \(c.path)\n"
                StandardStream.output.write(text)
            }
        }
    }
}
