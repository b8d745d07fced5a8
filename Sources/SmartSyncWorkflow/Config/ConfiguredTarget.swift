import SmartSyncCore
import SmartSyncFetch
import SmartSyncPipeline

/// One `[target.NAME]` table of the config file (`/etc/smart-sync/config.toml`): what `smart-sync sync NAME`,
/// `update NAME`, `rollback NAME`, `status NAME` and `sync --all` work on.
///
/// ```toml
/// [target.hypervisor]
/// repo = "owner/name"          # or: source = "/srv/git/hypervisor" (a local git repository); exactly one
/// ref = "main"                 # default: the default branch (HEAD)
/// path = "/etc/hypervisor"     # required, absolute
/// transport = "auto"           # auto | pack | raw (--transport)
/// link_mode = "auto"           # --link-mode; overrides [sync] link_mode
/// exclude = ["secrets/**"]     # --exclude
/// keep_generations = 3         # --keep-generations
/// token_file = "/run/keys/gh"  # read at run time; trailing newline stripped
/// api_url = "…"; raw_url = "…"; git_url = "…"
/// rebuild = "nixos-rebuild switch --flake {target}#{hostname}"   # update's --rebuild-command
/// skip_rebuild = false
/// metrics_file = "/var/lib/prometheus/node-exporter/smart-sync-hypervisor.prom"
/// mirrors = ["https://mirror.example/hv"]   # --mirror: static mirrors tried before the origin
/// trusted_key = "/etc/smart-sync/allowed_signers"   # --trusted-key: refs from the mirrors' signed refs
/// checks = "builtin"           # builtin | config | none
/// splay = "5m"                 # --splay: a random delay before the first request (not with source)
/// allow_downgrade = false      # --allow-downgrade
/// require_signed_commits = false            # --require-signed-commits
/// allowed_signers = "/etc/smart-sync/allowed_signers"   # --allowed-signers
/// ```
/// Every value is optional except `path` and one of `repo`/`source`; nil means "not set here" (a flag, the
/// `[sync]`/`[store]` tables or the built-in default decide). Parsed by ``parseAll(_:file:)``.
public struct ConfiguredTarget: Sendable, Equatable {
    /// Which checks `update NAME` runs (`checks = …`).
    public enum Checks: String, Sendable, Equatable, CaseIterable {
        /// The built-in hypervisor checks only.
        case builtin
        /// The config file's own `[[check]]` entries only.
        case config
        /// No checks.
        case none
    }

    /// The table's name: `hypervisor` in `[target.hypervisor]`. Never contains `/`.
    public var name: String
    /// The config file it came from and the line of its header, for messages.
    public var file: String
    public var line: Int

    /// `repo = "owner/name"`: a GitHub repository.
    public var repository: String?
    /// `source = "/path"`: a local git repository (bare or not).
    public var source: String?
    public var ref: String?
    /// `path`: the target directory (absolute).
    public var path: String
    public var transport: TransportMode?
    public var linkMode: LinkMode?
    public var excludes: [String] = []
    public var keepGenerations: Int?
    /// `token_file`: a file holding the GitHub token, read at run time (never logged).
    public var tokenFile: String?
    public var apiURL: String?
    public var rawURL: String?
    public var gitURL: String?
    /// `rebuild`: `update`'s rebuild command template.
    public var rebuild: String?
    public var skipRebuild: Bool?
    /// `metrics_file`: where the Prometheus textfile of this target goes (the metrics part of issue 13).
    public var metricsFile: String?
    /// `mirrors`: static mirrors tried in order before the origin (`--mirror`).
    public var mirrors: [String] = []
    /// `trusted_key`: an allowed_signers file; refs come from the mirrors' signed `refs` (`--trusted-key`).
    public var trustedKey: String?
    public var checks: Checks?
    /// `splay`: the longest random delay before the first request of `sync`, `warm` and `update` (`--splay`).
    public var splay: Splay?
    /// `allow_downgrade`, `require_signed_commits`, `allowed_signers`: the commit checks (``CommitPolicy``).
    public var allowDowngrade: Bool?
    public var requireSignedCommits: Bool?
    public var allowedSigners: String?

    public init(name: String, file: String, line: Int, path: String) {
        self.name = name
        self.file = file
        self.line = line
        self.path = path
    }

    /// The keys a `[target.NAME]` table may hold, in the order the docs list them.
    public static let keys = [
        "repo", "source", "ref", "path", "transport", "link_mode", "exclude", "keep_generations", "token_file",
        "api_url", "raw_url", "git_url", "rebuild", "skip_rebuild", "metrics_file", "mirrors", "trusted_key",
        "checks", "splay", "allow_downgrade", "require_signed_commits", "allowed_signers",
    ]

    /// True when `word` could name a target: not empty, no `/` (so `owner/repo` is always a repository), no
    /// whitespace or control characters, and not starting with `-` or `.`.
    public static func isValidName(_ word: String) -> Bool {
        guard let first = word.unicodeScalars.first, first != "-", first != "." else { return false }
        return word.unicodeScalars.allSatisfy { $0 != "/" && $0.value > 0x20 && $0.value != 0x7F }
    }
}
