import FoundationEssentials
import Logging
import SmartSyncCore
import SmartSyncObjectStore
import SmartSyncTransfer

/// Which source to build, from command-line settings.
public enum SourceConfiguration: Sendable {
    /// GitHub's REST API and raw host (or compatible servers).
    case github(GitHubLocation, token: GitHubToken?, transfer: TransferConfiguration, network: NetworkSettings)
    /// A local git repository.
    case local(path: String)

    /// Builds the GitHub case, restricting the token to the hosts ``GitHubLocation/credentialHosts(gitURL:)`` names.
    ///
    /// - Parameter rawURL: `--raw-url`, or nil for the API's default (``GitHubLocation/defaultRawURL(apiURL:)``).
    public static func github(
        slug: String, apiURL: String, rawURL: String?, token: GitHubToken?, network: NetworkSettings
    ) throws -> SourceConfiguration {
        let (owner, repo) = try GitHubLocation.parse(slug)
        var network = network
        if network.gitURL == nil { network.gitURL = NetworkSettings.defaultGitURL(apiURL: apiURL) }
        let gitURL = network.gitURL ?? ""
        let urls =
            [("--api-url", apiURL), ("--raw-url", rawURL), ("--git-url", gitURL)]
            + network.mirrors.map {
                ("--mirror", Optional($0))
            }
        for (flag, url) in urls {
            guard let url else { continue }
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw SmartSyncError(.invalidArgument, "\(flag) '\(url)' is not an http(s) URL")
            }
            let authority = url.drop { $0 != "/" }.dropFirst(2).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            if authority.contains("@") {
                // Not quoted: the URL holds a secret.
                throw SmartSyncError(
                    .invalidArgument,
                    "\(flag) carries credentials (user:password@)",
                    hint: "remove them and set the token in GH_TOKEN instead")
            }
            // Our own strict parser, not curl's: curl is loaded by the engine's thread, beside the scan.
            do { _ = try URLAuthority(url) } catch let error as SmartSyncError {
                throw SmartSyncError(.invalidArgument, "\(flag): \(error.message)", hint: error.hint)
            }
        }
        let location = GitHubLocation(owner: owner, repository: repo, apiURL: apiURL, rawURL: rawURL)
        var transfer = TransferConfiguration()
        // --jobs per host, plus a little headroom overall, so a host that hangs cannot hold every slot and
        // starve the other (API requests while the raw host is stuck, say) until the stall timeout.
        transfer.maxConcurrent = network.jobs + 2
        transfer.maxPerHost = network.jobs
        transfer.extraCAFile = network.extraCAFile
        transfer.limitRate = network.limitRate
        transfer.stallTimeout = network.stallTimeout
        transfer.minSpeed = network.minSpeed
        transfer.requestTimeout = network.requestTimeout
        transfer.maxDownload = network.maxDownload
        transfer.maxRequestsPerHost = network.maxRatePerHost
        transfer.hostBackoff.maxPause = network.maxWait
        // The pack transport sends the token to the git host through the engine (the clone fallback through git).
        let packs = network.transport != .raw && !network.forceFull
        transfer.credentialHosts = location.credentialHosts(gitURL: packs ? gitURL : nil)
        return .github(location, token: token, transfer: transfer, network: network)
    }

    /// Opens the source. The caller must `close()` it.
    ///
    /// - Parameters:
    ///   - cacheDirectory: validators for conditional requests.
    ///   - temporaryDirectory: where the shallow-clone fallback makes its temporary repository (the store's `tmp/`,
    ///     so imported objects stay on one filesystem); default: the system's temporary directory.
    ///   - store: where the pack transport imports packs; without one, GitHub runs take the per-blob path.
    ///   - notice: told which path a GitHub run takes and why, when it is not the API (`--force-full`, fallback).
    ///   - logger: where the engine logs each request and the sources their decisions, at `.debug`; also told here
    ///     which transport the run starts on and why.
    public func open(
        cacheDirectory: String?, temporaryDirectory: String? = nil, store: ObjectStore? = nil,
        notice: @escaping @Sendable (String) -> Void = { _ in }, logger: Logger = .disabled
    ) async throws -> OpenedSource {
        let opened = try await openOrigin(
            cacheDirectory: cacheDirectory, temporaryDirectory: temporaryDirectory, store: store, notice: notice,
            logger: logger)
        guard case .github(_, _, var transfer, let network) = self, !network.mirrors.isEmpty else { return opened }
        // The mirrors share the origin's engine (one connection pool, one --max-download), or get one of their own
        // under --force-full. No mirror request carries a credential, whatever the engine's credential hosts.
        transfer.logger = logger
        let engine = try opened.engine ?? TransferEngine(configuration: transfer)
        let mirrors = network.mirrors.map {
            MirrorSource(
                baseURL: $0, engine: engine, retryPolicy: network.retryPolicy, trust: network.mirrorTrust,
                storeBudget: opened.storeBudget, notice: notice, logger: logger)
        }
        let trusted = network.mirrorTrust != nil
        let mirrorList = network.mirrors.joined(separator: ", ")
        logger.debug(
            trusted
                ? "mirrors: refs from the signed refs of \(mirrorList), the origin never contacted"
                : "mirrors: listings and blobs from \(mirrorList) before the origin, which resolves refs",
            metadata: ["mirrors": "\(network.mirrors.count)"])
        return OpenedSource(
            source: MirroredSource(
                mirrors: mirrors, origin: trusted ? nil : opened.source, notice: notice, logger: logger),
            engine: engine, storeBudget: opened.storeBudget)
    }

    /// The origin alone, as ``open(cacheDirectory:temporaryDirectory:store:notice:logger:)`` builds it without mirrors.
    private func openOrigin(
        cacheDirectory: String?, temporaryDirectory: String?, store: ObjectStore?,
        notice: @escaping @Sendable (String) -> Void, logger: Logger
    ) async throws -> OpenedSource {
        switch self {
        case .github(let location, let token, var transfer, let network):
            transfer.logger = logger
            // The case is public: a caller building it directly without a git URL gets the API host's default.
            guard let gitURL = network.gitURL ?? NetworkSettings.defaultGitURL(apiURL: location.apiURL) else {
                throw SmartSyncError(.internal, "the GitHub configuration has no git URL")
            }
            let clone = ShallowCloneSource(
                gitURL: gitURL, owner: location.owner, repository: location.repository, token: token,
                temporaryDirectory: temporaryDirectory ?? (FileManager.default.temporaryDirectory.path + "/smart-sync"),
                stallTimeout: network.stallTimeout, extraCAFile: network.extraCAFile)
            let cloneFallback = FailoverPolicy.apiOutage(clone: clone.remoteURL)
            Self.logTransport(network, location: location, gitURL: gitURL, store: store, logger: logger)
            if network.forceFull {
                // No API request at all: the clone resolves, lists and fetches.
                return OpenedSource(
                    source: FailoverSource(
                        [clone], policy: cloneFallback, forcedReason: "--force-full was given", notice: notice),
                    engine: nil)
            }
            let engine = try TransferEngine(configuration: transfer)
            // What the run may add to the store, whichever path the objects take (the engine holds the bytes
            // received to the same number).
            let storeBudget = network.maxDownload.map(ByteBudget.init(limit:))
            let api = GitHubSource(
                location: location, engine: engine, token: token, cache: ValidatorCache(directory: cacheDirectory),
                retryPolicy: network.retryPolicy, maxWait: network.maxWait, storeBudget: storeBudget, notice: notice,
                logger: logger)
            let perBlob = FailoverSource([api, clone], policy: cloneFallback, notice: notice)
            guard network.transport != .raw, let store else {
                return OpenedSource(source: perBlob, engine: engine, storeBudget: storeBudget)
            }
            let repositoryURL = GitPackSource.repositoryURL(
                gitURL: gitURL, owner: location.owner, repository: location.repository)
            if network.transport == .auto,
                let refusal = CapabilityCache(directory: cacheDirectory, repositoryURL: repositoryURL).refusal()
            {
                // Found out within the last day, and said then: no probe, no warning on every run.
                let since = Date(timeIntervalSince1970: refusal.savedAt).formatted(.iso8601)
                let why = "\(repositoryURL) did not serve protocol v2 at \(since) (\(refusal.reason))"
                logger.debug(
                    "source: per-blob downloads; \(why); asked again a day after",
                    metadata: ["transport": "raw", "capabilityCache": "refused"])
                return OpenedSource(source: perBlob, engine: engine, storeBudget: storeBudget)
            }
            let pack = GitPackSource(
                repositoryURL: repositoryURL,
                engine: engine,
                token: token, store: store, raw: network.transport == .auto ? perBlob : nil,
                largeBlobThreshold: network.packBlobLimit, cacheDirectory: cacheDirectory,
                retryPolicy: network.retryPolicy, storeBudget: storeBudget, notice: notice, logger: logger)
            if network.transport == .pack {
                return OpenedSource(source: pack, engine: engine, storeBudget: storeBudget)
            }
            // The pack source closes its per-blob path too; closing twice is harmless.
            return OpenedSource(
                source: FailoverSource(
                    [pack, perBlob], policy: .packTransport, displayName: perBlob.displayName, notice: notice),
                engine: engine, storeBudget: storeBudget)
        case .local(let path):
            logger.debug(
                "source: the local repository \(path) through the git executable", metadata: ["transport": "local"])
            return OpenedSource(source: try await LocalGitSource(path: path), engine: nil)
        }
    }

    /// Logs the transport the run starts on and why (a switch later on is logged by the run as it happens).
    private static func logTransport(
        _ network: NetworkSettings, location: GitHubLocation, gitURL: String, store: ObjectStore?, logger: Logger
    ) {
        let why: String
        let transport: String
        if network.forceFull {
            (transport, why) = ("clone", "--force-full: a shallow git fetch from \(gitURL), no API request")
        } else if network.transport == .raw {
            (transport, why) = ("raw", "--transport raw: refs and trees from \(location.apiURL), blobs one per request")
        } else if store == nil {
            (transport, why) = ("raw", "no store to import packs into: refs and trees from \(location.apiURL)")
        } else if network.transport == .pack {
            (transport, why) = ("pack", "--transport pack: protocol v2 packs from \(gitURL), no fallback")
        } else {
            (transport, why) = (
                "pack",
                "--transport auto: protocol v2 packs from \(gitURL) first (blobs over \(network.packBlobLimit) bytes "
                    + "one per request, resumable); the per-blob path from \(location.apiURL) if the git host fails"
            )
        }
        logger.debug("transport \(transport): \(why)", metadata: ["transport": "\(transport)"])
    }
}

/// A source and the engine it owns.
public struct OpenedSource: Sendable {
    public let source: any SyncSource
    let engine: TransferEngine?
    /// What the run may add to the store (`--max-download`), shared by the origin and the mirrors.
    var storeBudget: ByteBudget? = nil

    /// Closes the source and shuts its engine down.
    public func close() {
        source.close()
        engine?.shutdown()
    }
}
