import ArgumentParser
import SmartSyncPipeline

/// Options naming where content comes from and where it is kept.
struct SourceOptions: ParsableArguments {
    @Argument(
        help: ArgumentHelp("The GitHub repository, as OWNER/REPO. Not used with --source.", valueName: "owner/repo"))
    var repository: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Sync from a local git repository (bare or not) instead of GitHub: the offline source.", valueName: "path"))
    var source: String?

    @Option(
        name: .long,
        help: ArgumentHelp("GitHub REST API root. GitHub Enterprise: https://HOST/api/v3.", valueName: "url"))
    var apiURL: String = "https://api.github.com"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Raw content root that serves {owner}/{repo}/{commit}/{path}; it receives the token. Default: https://raw.githubusercontent.com with the default --api-url; none otherwise (GitHub Enterprise: blobs come from the API).",
            valueName: "url"))
    var rawURL: String?

    @Option(
        name: .long,
        help: ArgumentHelp("A PEM file of CA certificates to trust in addition to the system's.", valueName: "file"))
    var cacert: String?

    @Option(
        name: .long,
        help:
            "Most downloads in flight at once per host (two more are allowed overall, so one stuck host cannot block the others)."
    )
    var jobs: Int = 16

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The content-addressed object store. Default: /var/cache/smart-sync as root, else $XDG_CACHE_HOME/smart-sync.",
            valueName: "dir"))
    var store: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where per-target state (last commit, manifest, stat cache) lives. Default: /var/lib/smart-sync as root, else $XDG_STATE_HOME/smart-sync.",
            valueName: "dir"))
    var stateDir: String?

    @Option(name: .long, help: "Previous trees kept beside the target for rollback.")
    var keepGenerations: Int = 3

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How files go from the store into the target: auto (reflinks where the file system shares extents, else hard links), hardlink, reflink or copy. Default: link_mode in [sync] of the config file, else auto.",
            valueName: "mode"))
    var linkMode: LinkMode?

    @OptionGroup(title: "Slow and unreliable links")
    var network: NetworkOptions

    /// True when a repository or `--source` was given (`verify` without `--repair` needs neither).
    var hasSource: Bool { source != nil || repository != nil }

    func validate() throws {
        if source != nil && repository != nil {
            throw ValidationError("Give either OWNER/REPO or --source PATH, not both.")
        }
        if keepGenerations < 0 || keepGenerations > 100 {
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

    @Flag(name: [.short, .long], help: "Log details (requests, decisions) to stderr.")
    var verbose = false

    @Flag(name: [.short, .long], help: "Print only errors.")
    var quiet = false
}
