import ArgumentParser
import FoundationEssentials
import Glibc
import Logging
import SmartSyncCore
import SmartSyncFetch
import SmartSyncObjectStore
import SmartSyncPipeline
import SmartSyncTransfer
import Synchronization

@main
struct SmartSync: AsyncParsableCommand {
    /// The tables of a large tree's sync are freed back to the system (``LargeAllocations``), then the command runs.
    static func main() async {
        LargeAllocations.returnToSystemWhenFreed()
        await runThenExit()
    }

    /// Runs the command, then ends the process on the thread the command ended on. Returning would first hop back to
    /// the main actor (`main()`'s), whose queue libdispatch drains after `dispatch_main` on a worker thread of its
    /// own: one made for that hop alone, at every run's end (the `clone3` just before `exit_group`, strace of a
    /// no-op; BENCHMARKS "noop8c"). An error ends the process inside ``dispatch(_:)`` already, as before.
    @concurrent private static func runThenExit() async -> Never {
        await dispatch(Array(CommandLine.arguments.dropFirst()))
        Glibc.exit(0)
    }

    static let configuration = CommandConfiguration(
        commandName: "smart-sync",
        abstract: "Keep a directory in sync with a git ref of a GitHub repository, without git clone.",
        discussion: """
            smart-sync resolves a ref to one commit, fetches only the blobs its content-addressed store lacks \
            (many at once, over one connection where HTTP/2 allows), verifies every blob by its git SHA-1 and \
            the tree listing up to the commit's tree id, then builds the new tree beside the target from \
            reflinks or hard links of the verified objects and swaps it in atomically.

            EXAMPLES:
              smart-sync sync MasterofNull/Hyper-NixOS --ref main --target /etc/hypervisor
              smart-sync plan MasterofNull/Hyper-NixOS --ref feature-x --target /etc/hypervisor
              smart-sync warm MasterofNull/Hyper-NixOS --ref main --ref v2.1.0
              smart-sync verify --target /etc/hypervisor                     # re-hash against the last sync
              smart-sync restore modules/x.nix --target /etc/hypervisor      # bring back a replaced local edit
              smart-sync sync --source /srv/hypervisor.git --ref v2 --target /etc/hypervisor   # offline
              smart-sync gc --dry-run                                        # what store cleanup would remove
              smart-sync fsck MasterofNull/Hyper-NixOS --repair              # re-hash the store, fetch damaged objects
              smart-sync sync hypervisor                                     # [target.hypervisor] of the config
              smart-sync sync --all                                          # every configured target

            CONFIG: /etc/smart-sync/config.toml (or --config FILE) declares targets as [target.NAME] tables \
            (repo or source, ref, path, transport, link_mode, exclude, keep_generations, token_file, rebuild, …), \
            [store] (path, state, max_size, …), [sync] and validate's [[check]]s; see docs/USAGE.md. A flag \
            overrides the target's table, which overrides [sync] and [store], which override the defaults.

            FALLBACK: when the API is unreachable, answers 5xx, or its rate limit does not reset within \
            --max-wait (or with --force-full), smart-sync fetches with `git fetch --depth 1` from \
            --git-url/OWNER/REPO.git instead, verifies and applies the same way, and says so.

            MIRRORS: --mirror URL (repeatable; a target's mirrors) names static mirrors written by `smart-sync \
            publish`: listings and blobs come from them in order, then the origin, all verified; a mirror that \
            lacks or damaged something is skipped for it, one that is down for the run. The origin still resolves \
            the ref, unless --trusted-key FILE (allowed_signers) takes it from the mirrors' signed refs without \
            contacting the origin at all. Mirrors never receive the token.

            REFS: --ref is read as git reads it, on every transport: a full commit SHA; HEAD; a full name \
            (refs/heads/x, refs/tags/x); else refs/NAME, refs/tags/NAME, refs/heads/NAME, refs/remotes/NAME in \
            that order. A name that is both a tag and a branch is refused (exit 64): give its full name. A short \
            SHA is taken only when no ref has that name (not with --transport pack or the fallback). Revision \
            expressions (main~1, v1^{commit}) are refused.

            TOKENS: a configured target's token_file; then $CREDENTIALS_DIRECTORY/gh-token (systemd's \
            LoadCredential=); then for a GitHub Enterprise --api-url, GH_ENTERPRISE_TOKEN or \
            GITHUB_ENTERPRISE_TOKEN; then GH_TOKEN, GITHUB_TOKEN, ~/.config/github/token, or `gh auth token \
            --hostname HOST` for the --api-url's host. Sent only to the --api-url host, the --git-url host (packs; \
            the fallback's git) and the raw host (raw.githubusercontent.com with the default --api-url, else only a \
            --raw-url you give); never to a --mirror, never after a redirect elsewhere, never printed, never in the \
            environment of git or the rebuild command.

            \(ExitCodes.help)
            """,
        version: "0.1.0",
        subcommands: [
            SyncCommand.self, PlanCommand.self, WarmCommand.self, VerifyCommand.self, RollbackCommand.self,
            RestoreCommand.self, ValidateCommand.self, UpdateCommand.self, GCCommand.self, FsckCommand.self,
            PinsCommand.self, UnpinCommand.self, StatusCommand.self, PublishCommand.self,
        ]
    )
}

extension LinkMode: ExpressibleByArgument {}

/// Everything a command needs to run, built from its options.
struct RunContext {
    let runner: SyncRunner
    let opened: OpenedSource
    let reporter: Reporter
    /// The config file's `[store]` and `[sync]` tables, read once before the run.
    let settings: FileSettings

    /// - Parameters:
    ///   - settings: the config file's settings (``CommonOptions/settings()``), read once by the command.
    ///   - tokenFile: a configured target's `token_file`, read before any other token source.
    ///   - commitPolicy: what the commit the run moves the target to must be (``CommitPolicyOptions``).
    static func make(
        _ source: SourceOptions, _ common: CommonOptions, _ output: OutputOptions, _ reporter: Reporter,
        settings: FileSettings, tokenFile: String? = nil, commitPolicy: CommitPolicy = CommitPolicy()
    ) async throws -> RunContext {
        let logger = output.logger(reporter)
        guard source.hasSource else {
            throw SmartSyncError(
                .invalidArgument,
                "name a GitHub repository as OWNER/REPO, a local repository with --source PATH, or a configured "
                    + "target by NAME")
        }
        let storeDir = common.storeDirectory(settings)
        let stateDir = common.stateDirectory(settings)
        let configuration: SourceConfiguration
        if let path = source.source {
            guard source.mirrors.isEmpty, source.trustedKey == nil else {
                throw SmartSyncError(
                    .invalidArgument, "--mirror and --trusted-key go with a GitHub repository, not --source \(path)",
                    hint: "a local repository needs no mirror: leave them out")
            }
            configuration = .local(path: path)
        } else {
            let apiURL = source.effectiveAPIURL
            var network = source.network.settings(jobs: source.jobs, extraCAFile: source.cacert)
            network.mirrors = source.mirrors
            if let key = source.trustedKey {
                guard !source.mirrors.isEmpty else {
                    throw SmartSyncError(
                        .invalidArgument, "--trusted-key \(key) takes refs from the mirrors, but no mirror is named",
                        hint: "add --mirror URL (or mirrors = [...] to the target)")
                }
                network.mirrorTrust = try TrustedKey.trust(
                    file: key, repository: source.repository ?? "", stateDirectory: stateDir)
            }
            configuration = try .github(
                slug: source.repository ?? "", apiURL: apiURL, rawURL: source.rawURL,
                // With a trusted key the origin is never contacted: no token is looked for either.
                token: network.mirrorTrust != nil
                    ? nil : try tokenFile.map(GitHubToken.read(file:)) ?? GitHubToken.discover(apiURL: apiURL),
                network: network)
        }
        let store = try ObjectStore(root: storeDir)
        let state = try StateStore(root: stateDir)
        // gc finds the targets of every state directory that uses the store.
        StoreUsers(store: store).register(state)
        let opened = try await configuration.open(
            cacheDirectory: storeDir + "/http-cache", temporaryDirectory: store.temporaryDirectory, store: store,
            notice: { reporter.handle(.warning($0)) }, logger: logger)
        var runner = SyncRunner(source: opened.source, store: store, state: state, events: { reporter.handle($0) })
        runner.keepGenerations = source.keepGenerations ?? 3
        runner.logger = logger
        runner.linkMode = source.linkMode ?? settings.linkMode ?? .auto
        runner.commitPolicy = commitPolicy
        let sourceName = opened.source.displayName
        logger.debug("run: store \(storeDir), state \(stateDir), source \(sourceName), link mode \(runner.linkMode)")
        return RunContext(runner: runner, opened: opened, reporter: reporter, settings: settings)
    }

    /// Runs `body`, printing errors for the operator and mapping them to documented exit codes; with a `recorder`,
    /// the run is recorded for `status` and the metrics file however it ends.
    static func guarded(_ reporter: Reporter, recording recorder: RunRecorder? = nil, _ body: () async throws -> Void)
        async throws
    {
        do {
            if let recorder { try await recorder.recording(reporter, body) } else { try await body() }
        } catch let error as SmartSyncError {
            reporter.fail(error)
            throw ExitCode(ExitCodes.code(for: error))
        }
    }
}
