import FoundationEssentials
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline

/// Output of the store's maintenance commands: gc, fsck, pins.
extension Reporter {
    /// One thing gc removed or would remove: every item in a dry run (on stdout, a `remove` event with `--json`);
    /// in a real run everything but the objects themselves (counted in the summary).
    func gcRemoval(_ removal: StoreGC.Removal, dryRun: Bool) {
        var object: [String: Any] = ["event": "remove"]
        let text: String
        let done: String
        switch removal {
        case .object(let o):
            guard dryRun else { return }
            object.merge(["kind": "object", "id": o.id.hex, "twin": o.isTwin, "path": o.path, "bytes": o.bytes]) { $1 }
            object["freedBytes"] = o.freedBytes
            text = "object      \(o.id.hex)\(o.isTwin ? ".x" : "")  \(Self.bytes(o.bytes))"
            done = text
        case .leftover(let l):
            object.merge(["kind": l.kind.rawValue, "path": l.path, "bytes": l.bytes]) { $1 }
            text = "\(l.kind.rawValue.padded(to: 11)) \(l.path)  \(Self.bytes(l.bytes))"
            done = "removed \(l.kind.rawValue) \(l.path) (\(Self.bytes(l.bytes)))"
        case .target(let key, let target, let reason):
            object.merge(["kind": "target-state", "key": key, "reason": reason]) { $1 }
            if let target { object["target"] = target }
            text = "state       \(target ?? key): \(reason)"
            done = "forgot the state of \(target ?? "target " + key): \(reason)"
        case .keptVersions(let target, let count):
            object.merge(["kind": "kept-versions", "target": target, "count": count]) { $1 }
            let records = "\(count) kept-version record\(count == 1 ? "" : "s") of \(target)"
            text = "kept        \(records) past the keep-local age"
            done = "dropped \(records) past the keep-local age"
        case .stateDirectory(let root):
            object.merge(["kind": "state-directory", "path": root]) { $1 }
            text = "state-dir   \(root) (no longer exists)"
            done = "unrecorded the state directory \(root), which no longer exists"
        }
        switch mode {
        case .json: writeJSONLine(object)
        case .quiet: break
        case .tty, .plain:
            if dryRun {
                StandardStream.output.write(text + "\n")
            } else {
                note("gc: " + done)
            }
        }
    }

    /// gc's summary: a JSON object named `event`, or one line.
    func gcSummary(_ r: StoreGC.Report, seconds: Double, event: String) {
        let s = r.sweep
        switch mode {
        case .json:
            var leftovers: [String: Any] = [:]
            for (kind, v) in r.leftovers { leftovers[kind.rawValue] = ["count": v.count, "bytes": v.bytes] }
            var roots: [String: Any] = [:]
            for (kind, n) in r.roots { roots[kind.rawValue] = n }
            writeJSONLine([
                "event": event, "command": "gc", "dryRun": r.dryRun, "roots": roots, "marked": r.marked,
                "stateDirectories": r.stateDirectories,
                "objects": [
                    "removed": s.removed, "bytes": s.removedBytes, "freedBytes": s.freedBytes,
                    "keptRooted": s.keptMarked, "keptYoung": s.keptYoung, "keptLinked": s.keptLinked,
                ],
                "leftovers": leftovers, "forgottenTargets": r.forgottenTargets,
                "expiredKeptVersions": r.expiredKeptVersions, "freedBytes": r.freedBytes, "storeBytes": r.usage,
                "seconds": seconds,
            ])
        case .quiet:
            break
        case .tty, .plain:
            let verb = r.dryRun ? "would remove" : "removed"
            let kept = s.keptMarked + s.keptYoung + s.keptLinked
            var line = "gc\(r.dryRun ? " (dry run)" : ""): \(verb) \(s.removed) object\(s.removed == 1 ? "" : "s")"
            line += " (\(Self.bytes(s.removedBytes))); kept \(kept) (\(s.keptMarked) rooted, \(s.keptYoung) younger"
            line += " than the grace period, \(s.keptLinked) linked from outside the store)"
            let leftovers = r.leftovers.values.reduce(0) { $0 + $1.count }
            if leftovers > 0 { line += "; \(verb) \(leftovers) leftover\(leftovers == 1 ? "" : "s")" }
            if r.forgottenTargets > 0 {
                line += "; \(r.dryRun ? "would forget" : "forgot") \(r.forgottenTargets) target "
                line += "state\(r.forgottenTargets == 1 ? "" : "s")"
            }
            line += "; \(r.dryRun ? "would free" : "freed") \(Self.bytes(r.freedBytes))"
            line += "; the store holds \(Self.bytes(r.usage)) of its own"
            line += "; \(seconds.fixed(2)) s"
            StandardStream.error.write(line + "\n")
        }
    }
}

extension Reporter {
    /// A damaged object fsck found and what was done about it (`damaged` event with `--json`).
    func fsckFinding(_ finding: FsckFinding, action: String?) {
        switch mode {
        case .json:
            var object: [String: Any] = [
                "event": "damaged", "id": finding.id.hex, "twin": finding.isTwin, "path": finding.path,
                "problem": finding.problem.name, "detail": finding.summary,
            ]
            if let action { object["action"] = action }
            writeJSONLine(object)
        case .quiet:
            break
        case .tty, .plain:
            note("damaged: \(finding.summary)" + (action.map { "; \($0)" } ?? ""))
        }
    }

    /// fsck's summary: what was checked, what was damaged, what roots lack, what the repair brought back, and the
    /// targets whose roots were not read (a sidecar or switch journal refused: `unreadRoots`).
    func fsckSummary(
        _ report: FsckReport, needs: [StoreRepair.Need], outcome: StoreRepair.Outcome?, unreadRoots: [String],
        seconds: Double
    ) {
        let missing = outcome?.unrepaired.map { ($0.id, $0.reason) }
            ?? needs.map { ($0.object.id, "quarantined and needed by a root; run fsck --repair") }
        switch mode {
        case .json:
            for (id, reason) in missing { writeJSONLine(["event": "missing", "id": id.hex, "reason": reason]) }
            var object: [String: Any] = [
                "event": "summary", "command": "fsck", "checked": report.checked, "bytes": report.bytes,
                "damaged": report.findings.count, "needed": needs.count, "missing": missing.count,
                "targets": Set(needs.flatMap(\.targets)).sorted(), "unreadRoots": unreadRoots,
                "kinds": Dictionary(uniqueKeysWithValues: report.kinds.map { ($0.key.rawValue, $0.value) }),
                "seconds": seconds,
            ]
            if let outcome {
                object["restoredLocally"] = outcome.restoredLocally.map(\.hex)
                object["fetched"] = outcome.fetched.map(\.hex)
            }
            writeJSONLine(object)
        case .quiet:
            break
        case .tty, .plain:
            var lines = missing.map { "missing: \($0.0.hex): \($0.1)" }
            var line = "fsck: \(report.checked) objects (\(Self.bytes(report.bytes))) hashed"
            line += " in \(seconds.fixed(2)) s"
            line += report.findings.isEmpty ? "; all intact" : "; \(report.findings.count) damaged"
            if !needs.isEmpty { line += "; \(needs.count) needed by a root" }
            if let outcome, !needs.isEmpty {
                line +=
                    ": \(outcome.restoredLocally.count) restored from the quarantine, \(outcome.fetched.count) fetched"
                line += ", \(outcome.unrepaired.count) not repaired"
            } else if !needs.isEmpty {
                line += "; run fsck --repair with the source to fetch them again"
            }
            if !unreadRoots.isEmpty {
                line += unreadRoots.count == 1 ? "; 1 target's" : "; \(unreadRoots.count) targets'"
                line += " roots not read"
            }
            lines.append(line)
            for target in Set(needs.flatMap(\.targets)).sorted() {
                lines.append(
                    "hint: files of \(target) may link a damaged copy; `smart-sync verify --target \(target)` checks "
                        + "them (--repair replaces them)"
                )
            }
            StandardStream.error.write(lines.map { $0 + "\n" }.joined())
        }
    }
}
