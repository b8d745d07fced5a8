import FoundationEssentials
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Where `smart-sync publish OWNER/REPO` reads from: a bare repository kept under the store
/// (`<store>/publish/<owner>+<repo>-<hash of the URL>.git`) and brought up to date by one `git fetch` per publish of
/// exactly the asked refs, `depth` commits deep, so a second publish downloads only what is new.
///
/// Refs are resolved by ``RefName``'s rule over `git ls-remote` of their candidates (as the shallow-clone fallback
/// does), fetched into `refs/publish/…` of the cache, and read back from there. The token reaches git only as
/// ``GitRemote`` passes it: an `http.<git-url>/.extraHeader` in a config file of its own (0600, in a private directory
/// named by `GIT_CONFIG_GLOBAL`, removed after the call), never on a command line, in a URL, in git's environment or in
/// the cache's config.
public struct PublishCache: Sendable {
    /// The cache repository.
    public let repository: String
    /// `{git-url}/{owner}/{repo}.git`, never with credentials.
    public let remoteURL: String
    /// `OWNER/REPO`.
    public let slug: String
    private let remote: GitRemote

    /// - Parameters:
    ///   - storeDirectory: the store's root; the cache lives in its `publish/` directory.
    ///   - gitURL: the git host's root (`--git-url`); `{owner}/{repo}.git` is appended.
    ///   - token: sent to the git host only.
    ///   - stallTimeout: seconds below 1 byte/s before git gives up.
    ///   - extraCAFile: PEM certificates trusted in addition to the system's (`--cacert`).
    public init(
        storeDirectory: String, gitURL: String, owner: String, repository: String, token: GitHubToken?,
        stallTimeout: Double = 30, extraCAFile: String? = nil
    ) {
        remote = GitRemote(
            gitURL: gitURL, token: token, stallTimeout: stallTimeout, extraCAFile: extraCAFile,
            purpose: "the publish fetch", command: "git fetch", temporaryDirectory: storeDirectory + "/tmp")
        remoteURL = remote.repositoryURL(owner: owner, repository: repository)
        slug = owner + "/" + repository
        let safe = { (s: String) in String(s.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }) }
        let key = safe(owner) + "+" + safe(repository) + "-" + ObjectID.hash(.blob, Array(remoteURL.utf8)).abbreviated()
        self.repository = storeDirectory + "/publish/" + key + ".git"
    }

    /// The cache of GitHub repository `slug` (`OWNER/REPO`), its URLs checked as a sync's are (http(s), no
    /// credentials in them); `gitURL` nil: the `--api-url`'s git host (``NetworkSettings/defaultGitURL(apiURL:)``).
    public static func github(
        slug: String, apiURL: String, gitURL: String?, token: GitHubToken?, storeDirectory: String,
        stallTimeout: Double = 30, extraCAFile: String? = nil
    ) throws -> PublishCache {
        var network = NetworkSettings()
        network.gitURL = gitURL
        guard case .github(let location, _, _, let checked) = try SourceConfiguration.github(
            slug: slug, apiURL: apiURL, rawURL: nil, token: token, network: network)
        else { throw SmartSyncError(.internal, "SourceConfiguration.github made no GitHub configuration") }
        // Kept though `github(slug:...)` sets it: the `.github` case is public and may be built without one.
        guard let checkedGitURL = checked.gitURL ?? NetworkSettings.defaultGitURL(apiURL: apiURL) else {
            throw SmartSyncError(.internal, "SourceConfiguration.github left no git URL")
        }
        return PublishCache(
            storeDirectory: storeDirectory, gitURL: checkedGitURL,
            owner: location.owner, repository: location.repository, token: token, stallTimeout: stallTimeout,
            extraCAFile: extraCAFile)
    }

    /// Fetches `refs` (names as `--ref` takes them) and returns each one's commit and root tree, in order.
    ///
    /// - Throws: `.notFound` naming a ref the remote lacks; `.invalidArgument` for a malformed or ambiguous name;
    ///   what ``GitRemote/explain(_:url:fetching:ref:)`` makes of a failed fetch.
    func update(refs: [String], depth: Int) async throws -> [ResolvedRef] {
        let names = try refs.map { try RefName($0) }
        try await prepare()
        let lock = try await FileLock.acquire(
            path: repository + "/smart-sync-publish.lock", what: "the publish cache \(repository)", shared: false,
            waitingUpTo: .seconds(600))
        defer { lock.release() }

        let lookedUp = names.filter {
            switch $0.kind {
            case .shortName, .fullName: true
            case .head, .commit: false
            }
        }
        // One ls-remote for every name: when it fails, it failed for all of them.
        let advertised =
            lookedUp.isEmpty
            ? []
            : try await remote.listRemote(
                lookedUp.flatMap(\.candidates), url: remoteURL, in: repository,
                for: lookedUp.map(\.text).joined(separator: "', '"))
        var wanted: [(name: RefName, source: String, destination: String)] = []
        for name in names {
            switch name.kind {
            case .head: wanted.append((name, "HEAD", "refs/publish/HEAD"))
            case .commit(let id): wanted.append((name, id.hex, "refs/publish/ids/" + id.hex))
            case .fullName, .shortName:
                switch try name.match(in: advertised, source: remoteURL) {
                case .ref(let full): wanted.append((name, full, "refs/publish/" + full.dropFirst("refs/".count)))
                case .abbreviatedCommit:
                    throw SmartSyncError(
                        .notFound, "'\(name.text)' is not a branch or tag of \(remoteURL), and "
                            + "publish cannot resolve a short SHA",
                        hint: "give the full 40-character commit SHA or a branch/tag name")
                }
            }
        }
        var seen = Set<String>()
        let refspecs = wanted.filter { seen.insert($0.destination).inserted }.map {
            "+" + $0.source + ":" + $0.destination
        }
        let args =
            remote.networkOptions() + [
                "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "fetch.writeCommitGraph=false",
                "fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head",
                "--depth", String(depth), "--", remoteURL,
            ] + refspecs
        let r = try await remote.git(args, in: repository)
        guard r.status == 0 else {
            let named = wanted.first { r.errorOutput.contains($0.source) } ?? wanted[0]
            throw remote.explain(r, url: remoteURL, fetching: named.source, ref: named.name.text)
        }
        let local = try await LocalGitSource(path: repository)
        var resolved: [ResolvedRef] = []
        for (name, _, destination) in wanted {
            resolved.append(try await local.commit(of: destination, shownAs: name.text))
        }
        return resolved
    }

    /// Makes the bare repository when it is missing.
    private func prepare() async throws {
        if FileManager.default.fileExists(atPath: repository + "/HEAD") { return }
        try FileSystem.makeDirectories(repository)
        let r: ProcessResult
        do {
            r = try await ProcessRunner.runGit(["init", "--quiet", "--bare", "."], in: repository)
        } catch let error as SmartSyncError where error.code == .sourceUnavailable {
            throw SmartSyncError(
                .sourceUnavailable, "publish OWNER/REPO needs the git executable, and none is on PATH",
                hint: "install git", cause: error)
        }
        guard r.status == 0 else {
            throw SmartSyncError(.io, "could not create the publish cache \(repository): \(r.errorExcerpt)")
        }
    }
}
