import FoundationEssentials
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncPipeline
import SmartSyncValidation
import SmartSyncWorkflow

extension Reporter {
    /// One update event: a human line on stderr, or an NDJSON event with `--json`.
    func update(_ event: UpdateEvent, verbose: Bool) {
        switch mode {
        case .json: updateJSON(event)
        case .quiet: break
        case .tty, .plain: updateHuman(event, verbose: verbose)
        }
    }

    private func updateHuman(_ event: UpdateEvent, verbose: Bool) {
        switch event {
        case .started(let step, let detail):
            switch step {
            case .rebuild, .rebuildPrevious: note("\(step.rawValue): running `\(detail)`")
            case .validateStage, .preValidate, .postValidate: note("\(step.rawValue): checking \(detail)")
            case .rollback: note("rollback: swapping the previous tree back into \(detail)")
            case .plan, .sync: break
            }
        case .check(_, let report):
            // Problems always; passes only with --verbose (validate itself lists every check).
            guard verbose || report.result.status == .warn || report.result.status == .fail else { return }
            note("  " + Self.line(report.result.status, report.kind, report.result.message))
        case .output(_, let line):
            note("  | " + line)
        case .finished(let record):
            note("\(record.step.rawValue): \(record.status.rawValue): \(record.message) (\(record.seconds.fixed(2)) s)")
        }
    }

    private func updateJSON(_ event: UpdateEvent) {
        switch event {
        case .started(let step, let detail):
            writeJSONLine(["event": "step-started", "step": step.rawValue, "detail": detail])
        case .check(let step, let report):
            var object: [String: Any] = [
                "event": "check", "step": step.rawValue, "id": report.id, "kind": report.kind.rawValue,
                "status": report.result.status.rawValue, "message": report.result.message,
            ]
            if !report.result.details.isEmpty { object["details"] = report.result.details }
            writeJSONLine(object)
        case .output(let step, let line):
            writeJSONLine(["event": "output", "step": step.rawValue, "line": line])
        case .finished(let record):
            writeJSONLine(Self.object(record).merging(["event": "step"]) { $1 })
        }
    }

    private static func object(_ record: StepRecord) -> [String: Any] {
        [
            "step": record.step.rawValue, "status": record.status.rawValue,
            "seconds": (record.seconds * 1000).rounded() / 1000, "message": record.message,
        ]
    }

    /// The update's summary: one line, or a `summary` event with `--json`.
    func finish(_ report: UpdateReport, target: String, checkOnly: Bool, source: any SyncSource, started: Date) {
        let seconds = Date().timeIntervalSince(started)
        switch mode {
        case .json:
            var object: [String: Any] = [
                "event": "summary", "command": "update", "target": target, "checkOnly": checkOnly,
                "switched": report.switched, "rolledBack": report.rolledBack, "changesPending": report.changesPending,
                "resumed": report.resumed,
                "steps": report.steps.map(Self.object), "seconds": (seconds * 1000).rounded() / 1000,
                "ok": report.failure == nil, "source": source.displayName, "transport": source.transport,
            ]
            if let ref = report.ref { object["ref"] = ref }
            if let c = report.commitBefore { object["commitBefore"] = c.hex }
            if let c = report.commitResolved { object["commit"] = c.hex }
            if let c = report.commitAfter { object["commitAfter"] = c.hex }
            if let sync = report.sync {
                object["plan"] = Self.encoded(sync.summary)
                object["blobsFetched"] = sync.fetch.blobsFetched
                object["bytesReceived"] = sync.fetch.bytesReceived
            }
            object["requests"] = Self.encoded(source.statistics)
            if let failure = report.failure {
                var error: [String: Any] = ["code": failure.code.description, "message": failure.message]
                if let hint = failure.hint { error["hint"] = hint }
                object["error"] = error
            }
            writeJSONLine(object)
        case .quiet:
            break
        case .tty, .plain:
            guard report.failure == nil else { return }
            let to = report.commitAfter?.abbreviated() ?? "?"
            var line = "update: \(target) "
            if checkOnly {
                if !report.changesPending {
                    line += "is up to date"
                } else if let next = report.commitResolved, next != report.commitAfter {
                    line += "has changes pending (\(to) → \(next.abbreviated()))"
                } else {
                    line += "has changes pending (at \(to): an interrupted update's rebuild and checks still to run)"
                }
            } else {
                line +=
                    report.switched
                    ? "\(report.commitBefore?.abbreviated() ?? "(none)") → \(to)" : "up to date at \(to)"
                if report.resumed { line += "; finished an interrupted update" }
                let rebuild = report.record(.rebuild)
                if rebuild?.status == .ok { line += "; rebuilt" }
            }
            note(line + "; \(seconds.fixed(2)) s")
        }
    }

    private static func encoded(_ value: some Encodable) -> Any {
        guard let data = try? JSONEncoder().encode(value),
            let object = try? JSONDecoder().decode(JSONValue.self, from: data)
        else { return JSONValue.null }
        return object.anyValue
    }
}
