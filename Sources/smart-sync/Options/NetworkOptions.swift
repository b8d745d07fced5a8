import ArgumentParser
import SmartSyncCore
import SmartSyncFetch
import SmartSyncPipeline

extension TransportMode: ExpressibleByArgument {}

/// `--max-rate-per-host`: read by ``RequestRate/init(parsing:)``.
extension RequestRate: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// Options for slow and unreliable links.
struct NetworkOptions: ParsableArguments {
    @Option(name: .long, help: "Retries after a failed request (connection errors, timeouts, 5xx, 429), with backoff.")
    var retries: Int = 4

    @Option(
        name: .long,
        help: ArgumentHelp(
            "One download budget for all transfers together, in bytes per second (500K, 2M, 1G).", valueName: "rate"))
    var limitRate: ByteCount?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds a transfer may stay below 1 byte/s (below --min-speed once data flows) before it is re-issued.",
            valueName: "seconds"))
    var stallTimeout: Double = 30

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Slowest a transfer may be over --stall-timeout once data flows, in bytes per second (a server that drips "
                + "is cut off and asked again); time paused by --limit-rate does not count.",
            valueName: "rate"))
    var minSpeed = ByteCount(NetworkSettings().minSpeed)

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Longest one request may take, in seconds (time paused by --limit-rate does not count).",
            valueName: "seconds"))
    var requestTimeout: Double = 3600

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Most one run may download, and most it may add to the store (512M, 4G; none: no limit). Packs from the "
                + "git host are also held to what was asked for.",
            valueName: "size"))
    var maxDownload = DownloadLimit(ByteCount(NetworkSettings.defaultMaxDownload))

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Longest wait for GitHub's rate limit to reset before falling back to a clone (or failing); also the "
                + "longest Retry-After a retry honours and the longest a 429 or 503 holds back a host. A wait "
                + "of 10^9 s or more (a server's number) fails at once, whatever this says.",
            valueName: "seconds"))
    var maxWait: Double = 60

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            Most requests started per second to any one host (10/s, 120/m; bursts of one second's worth), retries and \
            redirects included. Default: no cap.
            """,
            valueName: "rate"))
    var maxRatePerHost: RequestRate?

    @Flag(name: .long, help: "Skip the API: fetch with a shallow git clone from --git-url, then apply as usual.")
    var forceFull = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            Where {owner}/{repo}.git is served (git smart HTTP): the pack transport and the clone fallback. Default: \
            https://github.com with the default --api-url, else the --api-url's host (GitHub Enterprise).
            """,
            valueName: "url"))
    var gitURL: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            pack: git protocol v2 packs (deltas against what the store has); raw: one request per changed blob; auto \
            (the default): packs, with large blobs per request and per-blob downloads when packs fail.
            """,
            valueName: "auto|pack|raw"))
    var transport: TransportMode?

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            With --transport auto, blobs larger than this are left out of packs and downloaded one per request \
            (resumable).
            """,
            valueName: "size"))
    var packBlobLimit = ByteCount(NetworkSettings().packBlobLimit)

    func validate() throws {
        if retries < 0 || retries > 100 {
            throw ValidationError("--retries must be between 0 and 100 (got \(retries)).")
        }
        try Self.checkSeconds(stallTimeout, flag: "--stall-timeout")
        try Self.checkSeconds(requestTimeout, flag: "--request-timeout")
        try Self.checkSeconds(maxWait, flag: "--max-wait", zeroAllowed: true)
    }

    /// The rule for every option of seconds (shared with `publish`): a finite number, more than zero (or zero when
    /// `zeroAllowed`); nan, inf and negative values are refused naming `flag` (exit 64).
    static func checkSeconds(_ value: Double, flag: String, zeroAllowed: Bool = false) throws {
        guard value.isFinite, value > 0 || (zeroAllowed && value == 0) else {
            throw ValidationError(
                "\(flag) must be a finite number of seconds, \(zeroAllowed ? "zero or more" : "more than zero") "
                    + "(got \(value)).")
        }
    }

    /// The settings for the library, given `--jobs` and `--cacert` from the source options.
    func settings(jobs: Int, extraCAFile: String?) -> NetworkSettings {
        var s = NetworkSettings()
        s.jobs = jobs
        s.extraCAFile = extraCAFile
        s.retries = retries
        s.limitRate = limitRate?.bytes
        s.stallTimeout = stallTimeout
        s.minSpeed = minSpeed.bytes
        s.requestTimeout = requestTimeout
        s.maxDownload = maxDownload.bytes
        s.maxWait = maxWait
        s.maxRatePerHost = maxRatePerHost?.perSecond
        s.forceFull = forceFull
        s.gitURL = gitURL
        s.transport = transport ?? .auto
        s.packBlobLimit = packBlobLimit.bytes
        return s
    }
}
