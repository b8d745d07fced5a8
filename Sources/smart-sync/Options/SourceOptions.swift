import ArgumentParser
import Logging
import SmartSyncPipeline

/// Options naming where content comes from and where it is kept.
struct SourceOptions: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            """
            The GitHub repository, as OWNER/REPO (not used with --source); or the NAME of a target in the config file \
            ([target.NAME]), whose values the flags override.
            """,
            valueName: "owner/repo|name"))
    var repository: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Sync from a local git repository (bare or not) instead of GitHub: the offline source.", valueName: "path"))
    var source: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "GitHub REST API root (default: https://api.github.com). GitHub Enterprise: https://HOST/api/v3.",
            valueName: "url"))
    var apiURL: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            Raw content root that serves {owner}/{repo}/{commit}/{path}; it receives the token. Default: \
            https://raw.githubusercontent.com with the default --api-url; none otherwise (GitHub Enterprise: blobs \
            come from the API).
            """,
            valueName: "url"))
    var rawURL: String?

    @Option(
        name: .long,
        help: ArgumentHelp("A PEM file of CA certificates to trust in addition to the system's.", valueName: "file"))
    var cacert: String?

    @Option(
        name: .customLong("mirror"),
        help: ArgumentHelp(
            """
            A static mirror written by `smart-sync publish` (repeatable): listings and blobs are taken from the \
            mirrors in order, then the origin; everything is verified, and a mirror never receives the token. \
            Default: the target's mirrors.
            """,
            valueName: "url"))
    var mirrors: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            An allowed_signers file (ssh-keygen(1)): refs come from the mirrors' refs, signed in namespace smart-sync \
            by one of its keys, and the origin is never contacted. Expired, replayed or foreign pointers are refused.
            """,
            valueName: "file"))
    var trustedKey: String?

    @Option(
        name: .long,
        help:
            """
            Most downloads in flight at once per host (two more are allowed overall, so one stuck host cannot block \
            the others).
            """
    )
    var jobs: Int = 16

    @Option(name: .long, help: "Previous trees kept beside the target for rollback (default: 3).")
    var keepGenerations: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            How files go from the store into the target: auto (reflinks where the file system shares extents, else \
            hard links), hardlink, reflink or copy. Default: the target's link_mode, else link_mode in [sync] of the \
            config file, else auto.
            """,
            valueName: "mode"))
    var linkMode: LinkMode?

    @OptionGroup(title: "Slow and unreliable links")
    var network: NetworkOptions

    /// The API root: `--api-url`, the target's `api_url`, else GitHub's.
    var effectiveAPIURL: String { apiURL ?? "https://api.github.com" }

    /// True when a repository or `--source` was given (`verify` without `--repair` needs neither).
    var hasSource: Bool { source != nil || repository != nil }

    func validate() throws {
        if source != nil && repository != nil {
            throw ValidationError("Give either OWNER/REPO or --source PATH, not both.")
        }
        if let keepGenerations, keepGenerations < 0 || keepGenerations > 100 {
            throw ValidationError("--keep-generations must be between 0 and 100 (got \(keepGenerations)).")
        }
        if jobs < 1 || jobs > 256 {
            throw ValidationError("--jobs must be between 1 and 256 (got \(jobs)).")
        }
    }
}

/// Options shaping what is printed.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print NDJSON events on stdout, ending with a summary object.")
    var json = false

    @Flag(
        name: [.short, .long],
        help: "Log to stderr what each stage did: requests, decisions, timings (-vv: more detail).")
    var verbose: Int

    /// `-v` or `-vv` was given.
    var isVerbose: Bool { verbose > 0 }

    /// The logger the run's library code is given: stderr at `.debug` with `-v`, `.trace` with `-vv`.
    func logger(_ reporter: Reporter) -> Logger {
        StderrLogHandler.logger(verbosity: verbose, reporter: reporter)
    }

    @Flag(name: [.short, .long], help: "Print only errors.")
    var quiet = false
}
