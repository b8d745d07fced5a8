import ArgumentParser
import FoundationEssentials
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline

struct PinsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pins",
        abstract: "List the commits pinned with `warm --pin` (gc keeps their objects).",
        discussion: """
            One line per pin: name, commit, files, when it was pinned, what the offline commit checks can use. Pins \
            live in the store (<store>/pins/), each with the commit's verified listing, so gc keeps every blob of the \
            commit, and with what the commit checks need offline (the commit's object, its ancestry against the \
            targets' commits and the other pins). `warm --pin` pins each warmed ref under its name (moving an existing \
            pin of that name); `unpin NAME` drops one.

            EXAMPLES:
              smart-sync warm MasterofNull/Hyper-NixOS --ref v2.1.0 --pin
              smart-sync pins
              smart-sync unpin v2.1.0

            \(ExitCodes.help)
            """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        try await RunContext.guarded(reporter) {
            let pins = PinStore(store: try common.openStore(common.settings()))
            let index = try await pins.index()
            for pin in try pins.list() {
                let files = pin.listing.entries.filter(\.mode.isBlob).count
                let when = Date(timeIntervalSince1970: Double(pin.pinnedAtNs) / 1e9).iso8601Seconds
                // What the offline commit checks can use (see `warm --pin`).
                let object = index.commitObject(pin.commit) != nil
                let answers = index.pinned(pin.commit)?.ancestry.count ?? 0
                if output.json {
                    reporter.writeJSONLine([
                        "event": "pin", "name": pin.name, "commit": pin.commit.hex, "files": files, "pinnedAt": when,
                        "commitObject": object, "ancestryAnswers": answers,
                    ])
                } else {
                    let checks = "\(object ? "commit object kept" : "no commit object"), \(answers) ancestry answers"
                    StandardStream.output.write("\(pin.name)\t\(pin.commit.hex)\t\(files) files\t\(when)\t\(checks)\n")
                }
            }
        }
    }
}

struct UnpinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpin",
        abstract: "Drop pins made with `warm --pin`; the next gc may remove their objects.",
        discussion: """
            EXAMPLES:
              smart-sync unpin v2.1.0 main

            \(ExitCodes.help)
            """)

    @Argument(help: ArgumentHelp("The pins to drop (as `smart-sync pins` lists them).", valueName: "name"))
    var names: [String]

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if names.isEmpty { throw ValidationError("Name at least one pin to drop (`smart-sync pins` lists them).") }
    }

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        try await RunContext.guarded(reporter) {
            let pins = PinStore(store: try common.openStore(common.settings()))
            var unknown: [String] = []
            for name in names where !(try await pins.remove(name)) { unknown.append(name) }
            for name in names where !unknown.contains(name) {
                if output.json {
                    reporter.writeJSONLine(["event": "unpinned", "name": name])
                } else {
                    reporter.note("unpinned \(name)")
                }
            }
            if !unknown.isEmpty {
                let known = try pins.list().map(\.name).joined(separator: ", ")
                throw SmartSyncError(
                    .notFound,
                    "no pin named \(unknown.map { "'\($0)'" }.joined(separator: ", ")) (pins: "
                        + "\(known.isEmpty ? "none" : known))")
            }
        }
    }
}
