import ArgumentParser
import FoundationEssentials
import SmartSyncFetch
import SmartSyncGitObjects

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Write refs of a repository into a directory as a static mirror that hosts fetch from (--mirror).",
        discussion: """
            Writes docs/MIRROR.md's layout into --to DIR: each ref's commit (and its history back to the commits \
            published before, at most --history), the recursive listing of its root tree, its blobs by id, one \
            pack per commit, then the `refs` pointer (and `refs.sig` with --sign-key). Every file but `refs` and \
            `refs.sig` is named by content and never rewritten, so a second publish adds only what is new, and any \
            HTTP server, CDN or cache can serve the directory. Upload new files first and `refs` last (rsync, aws s3 \
            sync: see docs/MIRROR.md).

            From GitHub (OWNER/REPO), publish keeps a git repository under the store (<store>/publish/) and updates \
            it with one `git fetch` of exactly the asked refs; the token (GH_TOKEN, …) goes to the --git-url host \
            only. With --source it reads a local repository.

            EXAMPLES:
              smart-sync publish MasterofNull/Hyper-NixOS --ref main --ref v1.2 --to /srv/mirror/hv
              smart-sync publish --source /srv/git/hv.git --ref main --to /srv/mirror/hv
              smart-sync publish --source /srv/git/hv.git --ref main --to /srv/mirror/hv --sign-key ~/.ssh/id_ed25519

            \(ExitCodes.help)
            """)

    @Argument(help: ArgumentHelp("The GitHub repository (not with --source).", valueName: "owner/repo"))
    var repository: String?

    @Option(name: .long, help: ArgumentHelp("Publish from a local git repository (bare or not).", valueName: "path"))
    var source: String?

    @Option(
        name: .long,
        help: "A ref to publish (repeatable; the first is the mirror's head), written as for sync --ref.")
    var ref: [String] = []

    @Option(name: .long, help: ArgumentHelp("The mirror directory (made when missing).", valueName: "dir"))
    var to: String

    @Option(name: .long, help: "Most ancestors written per publish, back to the commits published before.")
    var history = 1000

    @Option(
        name: .long,
        help: ArgumentHelp("How long hosts accept the refs file (7d, 12h, 3600; default 7d).", valueName: "duration"))
    var expiresIn: Age?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Sign the refs file with this SSH key (ssh-keygen -Y sign -n smart-sync), writing refs.sig.",
            valueName: "keyfile"))
    var signKey: String?

    @Flag(name: .long, help: "Write no per-commit packs (packs/<commit>.pack).")
    var noPacks = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The repository name written into the mirror. Default: OWNER/REPO, or the --source path (absolute).",
            valueName: "name"))
    var name: String?

    @Option(
        name: .long, help: ArgumentHelp("GitHub REST API root (picks the token and the git host).", valueName: "url"))
    var apiURL = "https://api.github.com"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where {owner}/{repo}.git is served. Default: https://github.com, else the --api-url's host.",
            valueName: "url"))
    var gitURL: String?

    @Option(
        name: .long,
        help: ArgumentHelp("A PEM file of CA certificates to trust in addition to the system's.", valueName: "file"))
    var cacert: String?

    @Option(name: .long, help: ArgumentHelp("Seconds git may stay below 1 byte/s.", valueName: "seconds"))
    var stallTimeout: Double = 30

    @OptionGroup var common: CommonOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if (source == nil) == (repository == nil) {
            throw ValidationError("Give either OWNER/REPO or --source PATH (one of them).")
        }
        if ref.isEmpty { throw ValidationError("Give at least one --ref to publish.") }
        if history < 0 || history > 1_000_000 {
            throw ValidationError("--history must be between 0 and 1000000 (got \(history)).")
        }
        if let expiresIn, expiresIn.seconds <= 0 { throw ValidationError("--expires-in must be more than zero.") }
        try NetworkOptions.checkSeconds(stallTimeout, flag: "--stall-timeout")
    }

    func run() async throws {
        let reporter = Reporter(json: output.json, quiet: output.quiet)
        try await RunContext.guarded(reporter) {
            let started = Date()
            var options = MirrorPublisher.Options(refs: ref)
            options.history = history
            options.expiresIn = expiresIn?.seconds ?? options.expiresIn
            options.signingKey = signKey
            options.packs = !noPacks
            let publisher = MirrorPublisher(directory: to, repositoryName: name)
            let report: MirrorPublisher.Report
            if let source {
                report = try await publisher.publish(repository: source, options: options)
            } else {
                let cache = try PublishCache.github(
                    slug: repository ?? "", apiURL: apiURL, gitURL: gitURL, token: GitHubToken.discover(apiURL: apiURL),
                    storeDirectory: common.storeDirectory(try common.settings()), stallTimeout: stallTimeout,
                    extraCAFile: cacert)
                report = try await publisher.publish(cache: cache, options: options)
            }
            Self.print(report, to: to, seconds: Date().timeIntervalSince(started), reporter: reporter)
        }
    }

    private static func print(_ r: MirrorPublisher.Report, to directory: String, seconds: Double, reporter: Reporter) {
        let p = r.pointer
        if reporter.mode == .json {
            var refs: [String: String] = [:]
            for ref in p.refs { refs[ref.name] = ref.commit.hex }
            reporter.writeJSONLine([
                "event": "summary", "command": "publish", "repository": p.repository, "directory": directory,
                "head": p.head, "refs": refs, "published": p.published, "expires": p.expires, "signed": r.signed,
                "commitsWritten": r.commitsWritten, "listingsWritten": r.listingsWritten,
                "objectsWritten": r.objectsWritten, "packsWritten": r.packsWritten, "bytesWritten": r.bytesWritten,
                "seconds": seconds,
            ])
            return
        }
        let refs = p.refs.map { "\($0.name) → \($0.commit.abbreviated())" }.joined(separator: ", ")
        let expires = Date(timeIntervalSince1970: Double(p.expires)).formatted(.iso8601)
        reporter.note(
            "published \(p.repository) to \(directory): \(refs); new: \(r.commitsWritten) commits, "
                + "\(r.listingsWritten) listings, \(r.objectsWritten) objects, \(r.packsWritten) packs "
                + "(\(Reporter.bytes(r.bytesWritten))); refs expire \(expires)\(r.signed ? ", signed" : "")")
    }
}
