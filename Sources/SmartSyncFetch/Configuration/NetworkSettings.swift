import FoundationEssentials
import SmartSyncTransfer

/// Network behaviour chosen on the command line, shared by every remote source.
public struct NetworkSettings: Sendable {
    /// Most transfers in flight, overall and per host (`--jobs`).
    public var jobs: Int = 16
    /// Extra trusted CA certificates (`--cacert`).
    public var extraCAFile: String?
    /// Retries after a failed request (`--retries`).
    public var retries: Int = 4
    /// Global download budget in bytes per second (`--limit-rate`); nil: unlimited.
    public var limitRate: Int?
    /// Seconds below 1 byte/s before a transfer counts as stalled and is re-issued (`--stall-timeout`); also the
    /// window of ``minSpeed``.
    public var stallTimeout: Double = 30
    /// Bytes per second a transfer must keep up over ``stallTimeout`` once its payload flows (`--min-speed`).
    public var minSpeed: Int = 1 << 10
    /// Seconds one request may take (`--request-timeout`).
    public var requestTimeout: Double = 3600
    /// The most a run may download, and the most it may add to the store (`--max-download`); nil: no limit.
    public var maxDownload: Int? = NetworkSettings.defaultMaxDownload
    /// The most requests that start per second to one host (`--max-rate-per-host`); nil: no cap.
    public var maxRatePerHost: Double?
    /// Longest wait for a rate-limit reset before falling back or failing (`--max-wait`), in seconds.
    public var maxWait: Double = 60
    /// Skip the API and fetch with a shallow git clone (`--force-full`).
    public var forceFull: Bool = false
    /// Where `{owner}/{repo}.git` lives: the pack transport's host and the clone fallback's (`--git-url`); nil: the
    /// API's own host (``defaultGitURL(apiURL:)``).
    public var gitURL: String?
    /// How content travels (`--transport`).
    public var transport: TransportMode = .auto
    /// With `--transport auto`, blobs larger than this are left out of packs and fetched one per request, resumable
    /// (`--pack-blob-limit`).
    public var packBlobLimit: Int = 1 << 20
    /// Static mirrors tried in order before the origin for listings and blobs (`--mirror`, a target's `mirrors`).
    public var mirrors: [String] = []
    /// How the mirrors' signed `refs` are trusted (`--trusted-key`): then refs come from them and the origin is never
    /// contacted. nil: the origin resolves refs.
    public var mirrorTrust: MirrorTrust?

    /// `--max-download`'s default: 4 GiB, several times the largest configuration repositories, small enough
    /// that a host sending without end cannot fill a disk.
    public static let defaultMaxDownload = 4 << 30

    public init() {}

    /// The retry policy these settings ask for.
    public var retryPolicy: RetryPolicy { RetryPolicy(retries: retries, maxRetryAfter: maxWait) }

    /// The git host that goes with an API root: `https://github.com` for `https://api.github.com`, and the API's own
    /// origin otherwise (GitHub Enterprise serves `https://HOST/api/v3` and `https://HOST/OWNER/REPO.git`).
    ///
    /// Never another host than the one the operator named: the git host resolves refs and receives the token.
    /// Nil when ``URLAuthority`` refuses `apiURL` (the configuration then refuses it too, naming `--api-url`), so a
    /// URL with `user:password@` never comes back.
    public static func defaultGitURL(apiURL: String) -> String? {
        guard let api = try? URLAuthority(apiURL) else { return nil }
        return api.origin == "https://api.github.com" ? "https://github.com" : api.origin
    }
}
