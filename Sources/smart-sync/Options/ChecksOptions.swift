import ArgumentParser
import Foundation
import SmartSyncPipeline
import SmartSyncValidation

/// Where `validate` and `update` find their checks.
struct ChecksOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The checks' config file (default: /etc/smart-sync/config.toml when present).", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Resolve absolute host paths under this directory.", valueName: "dir"))
    var root: String = "/"

    /// `--root`, normalized.
    var rootPath: String { root == "/" ? "/" : StateStore.normalize(root) }

    /// The checks: `--config`, else the default file under `--root` when it exists, else the built-in ones.
    func load() throws -> ValidationConfig {
        if let config { return try ValidationConfig.load(path: config) }
        let defaultFile = ValidationContext(target: "/", root: rootPath).hostPath(ValidationConfig.defaultFile)
        if FileManager.default.fileExists(atPath: defaultFile) { return try ValidationConfig.load(path: defaultFile) }
        return ValidationConfig()
    }
}
