import ArgumentParser
import SmartSyncObjectStore
import SmartSyncPipeline

/// The options every command takes, so that a script can pass the same ones to each: the config file, the store and
/// the state directory. Each command uses what it needs and ignores the rest (`pins` has no use for the state
/// directory, `rollback --list` none for the store).
struct CommonOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            The config file: targets ([target.NAME]), [store], [sync] and validate's checks. Default: \
            /etc/smart-sync/config.toml when present.
            """,
            valueName: "file"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            The content-addressed object store. Default: path in the config's [store] table, else \
            /var/cache/smart-sync as root, else $XDG_CACHE_HOME/smart-sync.
            """,
            valueName: "dir"))
    var store: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            Where per-target state (last commit, manifest, stat cache) lives. Default: state in the config's [store] \
            table, else /var/lib/smart-sync as root, else $XDG_STATE_HOME/smart-sync.
            """,
            valueName: "dir"))
    var stateDir: String?

    /// The config file's settings (`--config`, else the system's file when it exists, else the defaults).
    func settings() throws -> FileSettings { try FileSettings.load(path: config) }

    /// `--store`, else `[store] path`, else the default.
    func storeDirectory(_ settings: FileSettings) -> String { store ?? settings.storePath ?? DefaultPaths.store }

    /// `--state-dir`, else `[store] state`, else the default.
    func stateDirectory(_ settings: FileSettings) -> String { stateDir ?? settings.statePath ?? DefaultPaths.state }

    /// The object store these options name.
    func openStore(_ settings: FileSettings) throws -> ObjectStore { try ObjectStore(root: storeDirectory(settings)) }

    /// The state directory these options name.
    func openState(_ settings: FileSettings) throws -> StateStore { try StateStore(root: stateDirectory(settings)) }
}
