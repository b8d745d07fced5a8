import ArgumentParser
import FoundationEssentials
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Bring back a local version of one file that a sync replaced, with no network.",
        discussion: """
            A sync never loses a local edit: a file that differs from what the last sync put there is saved \
            into the store before it is replaced, and recorded. restore puts the most recent such version of \
            PATH back (verified by its hash), or with --generation N the file as it was in kept generation N \
            (see `smart-sync rollback --list`). The restored file is a private copy with the permissions and \
            owner the kept version had (a generation's file: 0644, or 0755 for executables), swapped in \
            atomically; the file it replaces is saved and recorded first, so a restore loses nothing either. \
            The next sync replaces the file again (keeping it again), unless it runs with --keep-local.

            PATH is relative to the target, or absolute inside it.

            EXAMPLES:
              smart-sync restore modules/local.nix --target /etc/hypervisor --list
              smart-sync restore modules/local.nix --target /etc/hypervisor
              smart-sync restore /etc/hypervisor/modules/local.nix --target /etc/hypervisor --generation 4

            \(ExitCodes.help)
            """)

    @Argument(
        help: ArgumentHelp("The file to restore, relative to the target or absolute inside it.", valueName: "path"))
    var path: String

    @Option(name: .long, help: ArgumentHelp("The synced directory.", valueName: "dir"))
    var target: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Restore PATH as it is in this kept generation's tree (numbers: --list, or rollback --list).",
            valueName: "n"))
    var generation: Int?

    @Flag(
        name: .long,
        help: """
            List the versions of PATH that can be restored. Changes nothing, except that a switch a killed run \
            left is finished first when the target's lock is free (otherwise listed without it, with a warning).
            """)
    var list = false

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if list && generation != nil { throw ValidationError("--list and --generation do not go together.") }
    }

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        try await RunContext.guarded(reporter) {
            let settings = try common.settings()
            let state = try common.openState(settings)
            let objects = try common.openStore(settings)
            // Held shared while Restore takes its own: a gc in progress is waited for here, not refused there.
            let storeLock = try await objects.lock(shared: true, waitingUpTo: .seconds(600)) { _ in
                reporter.note("restore: waiting for smart-sync gc to finish with the store")
            }
            defer { storeLock.release() }
            if list {
                // A switch a killed run left is recovered first when the target lock is free, so a killed rollback's
                // kept versions are listed; with the lock held (an update), listed without it, with a warning.
                let versions = try Restore.versions(
                    of: path, target: target, state: state, store: objects, events: { reporter.handle($0) })
                for v in versions { reporter.printVersion(v) }
                if versions.isEmpty && !output.json {
                    StandardStream.error.write("restore: no kept versions of \(path)\n")
                }
                return
            }
            let outcome = try Restore.run(
                path: path, target: target, generation: generation, store: objects, state: state,
                events: { reporter.handle($0) })
            reporter.printRestore(outcome, target: target)
        }
    }
}

extension Reporter {
    /// One line (or `version` event) per restorable version.
    func printVersion(_ v: Restore.Version) {
        var object: [String: Any] = ["event": "version", "mode": v.mode.description, "id": v.id.hex]
        let text: String
        switch v.origin {
        case .kept(let k):
            let when = Date(timeIntervalSince1970: Double(k.timeNs) / 1e9)
            object["source"] = "kept"
            object["time"] = when.iso8601Seconds
            if let c = k.replacedBy { object["replacedBy"] = c.hex }
            if let generation = k.rollbackTo { object["rollbackTo"] = generation }
            let by = k.replacement
            text = "kept\t\(when.iso8601Seconds)\t\(v.mode)\t\(v.id.abbreviated())\t\(by)"
        case .generation(let sequence, let commit):
            object["source"] = "generation"
            object["generation"] = sequence
            if let commit { object["commit"] = commit.hex }
            let of = commit.map { "tree of \($0.abbreviated())" } ?? "the tree found before the first sync"
            text = "generation \(sequence)\t\(v.mode)\t\(v.id.abbreviated())\t\(of)"
        }
        if mode == .json {
            writeJSONLine(object)
        } else {
            StandardStream.output.write(text + "\n")
        }
    }

    /// The summary of a restore.
    func printRestore(_ outcome: Restore.Outcome, target: String) {
        let from: String
        switch outcome.restored.origin {
        case .kept: from = "the kept version"
        case .generation(let sequence, _): from = "generation \(sequence)"
        }
        switch mode {
        case .json:
            var object: [String: Any] = [
                "event": "summary", "command": "restore", "target": target, "path": outcome.path.description,
                "id": outcome.restored.id.hex, "mode": outcome.restored.mode.description,
                "unchanged": outcome.unchanged,
            ]
            if case .generation(let sequence, _) = outcome.restored.origin { object["generation"] = sequence }
            if let saved = outcome.saved { object["saved"] = ["path": saved.path.description, "id": saved.id.hex] }
            writeJSONLine(object)
        case .quiet:
            break
        case .tty, .plain:
            var line = "restore: \(outcome.path) "
            line +=
                outcome.unchanged
                ? "already holds \(from) (\(outcome.restored.id.abbreviated()))"
                : "← \(from) (\(outcome.restored.id.abbreviated()))"
            if let saved = outcome.saved { line += "; the version it replaced (\(saved.id.abbreviated())) was kept" }
            StandardStream.error.write(line + "\n")
        }
    }
}
