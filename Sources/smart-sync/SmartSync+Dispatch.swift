import ArgumentParser

extension SmartSync {
    /// Parses `arguments` (the command line without the program's name) and runs the command they name, as
    /// `main(nil)` does, with one shortcut: when the first argument names a subcommand, that subcommand alone parses
    /// the rest (``parsedSubcommand(_:)``). Anything else, and anything that parse does not turn into a plain
    /// instance of the subcommand (a help or version request, a completion-script request, any usage or validation
    /// error), goes through the root's own parse, so every message, help text and exit code is the root's.
    ///
    /// The root's parse builds the matched subcommand's whole argument set by reflection twice more (its lenient pass
    /// asks twice whether the subcommand captures all remaining input) and reads every subcommand's configuration:
    /// 6.3 M instructions of a `sync`'s parse; ~3.5 % of base e43c266's no-op's instructions (7.4 M of 208.3 M apart
    /// from malloc's frees before the exit, which vary run to run; 9.1 M between the totals' medians); ~0.7 ms CPU of
    /// the parse; the no-op's CPU change is within noise (BENCHMARKS "noop9parse"). The cost: a command line the
    /// shortcut leaves to the root (help, usage and validation errors, `sync --version`) is parsed twice, 6.2-6.6 M
    /// instructions more than before (`sync --help` 48.9 → 55.5 M, `sync --jobs 0` 38.1 → 44.4 M).
    ///
    /// The shortcut gives the root's answer only while the root adds nothing to a subcommand's parse, that is while
    /// (`DispatchTests` checks all but `validate()` against the library's `--experimental-dump-help`; check these
    /// again when swift-argument-parser is upgraded):
    /// - the root has no options, arguments or `validate()` of its own (only the library's `--version` and `--help`);
    /// - the root has no `defaultSubcommand`;
    /// - no subcommand has an argument parsed other than the plain way: no `.captureForPassthrough`,
    ///   `.allUnrecognized`, `.unconditionalRemaining`, `.postTerminator` or `.unconditional` (the root's lenient
    ///   pass treats a subcommand that passes input through apart).
    static func dispatch(_ arguments: [String]) async {
        guard var command = await parsedSubcommand(arguments) else {
            await main(arguments)
            return
        }
        do {
            try await command.run()
        } catch {
            exit(withError: error)
        }
    }

    /// The subcommand `arguments.first` names (by name or alias), parsed from the arguments after it alone and
    /// validated; nil when the first argument names none, or when that parse throws or ends in anything but an
    /// instance of the subcommand (swift-argument-parser answers `--help` with its own help command, not a throw).
    /// The match by alias mirrors the root's matching (no subcommand of ours has an alias today).
    static func parsedSubcommand(_ arguments: [String]) async -> (any AsyncParsableCommand)? {
        guard let name = arguments.first,
            let named = configuration.subcommands.first(where: {
                $0.configuration.commandName == name || $0.configuration.aliases.contains(name)
            }),
            // One conformance lookup, for the named command alone (a cast of the whole list costs one per command).
            let command = named as? any AsyncParsableCommand.Type
        else { return nil }
        return await parsed(command, Array(arguments.dropFirst()))
    }

    private static func parsed<Command: AsyncParsableCommand>(_: Command.Type, _ arguments: [String]) async
        -> Command?
    {
        try? await Command.asyncParseAsRoot(arguments) as? Command
    }
}
