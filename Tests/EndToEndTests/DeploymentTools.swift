import Foundation
import TestSupport
import Testing

/// The tools the deployment tests (systemd units, the NixOS module) run: `systemd-analyze verify` and
/// `nix-instantiate`, both offline; and the shipped files they check.
enum DeploymentTools {
    static let systemdAnalyze = "/usr/bin/systemd-analyze"
    static let nixInstantiate = "/usr/bin/nix-instantiate"
    static let distUnits = SmartSyncBinary.packageRoot + "/dist/systemd"
    static let nixTests = SmartSyncBinary.packageRoot + "/Tests/Nix"

    /// A tool that ran and failed where the test needs its output.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Nil when `tool` is installed, else why the test cannot run (printed by the caller).
    static func missing(_ tool: String, package: String) -> String? {
        FileManager.default.isExecutableFile(atPath: tool)
            ? nil : "\(tool) is not installed (Debian package \(package); .ci/run installs it)"
    }

    /// `systemd-analyze verify` of `units` (paths; an instance such as `dir/smart-sync@x.service` is loaded from the
    /// template and drop-ins in `dir`). Unknown keys, bad values and missing executables are only warnings to systemd:
    /// `--recursive-errors=no` turns every warning about the given units into a failure, and `--man=no` skips man
    /// pages.
    static func verify(_ units: [String]) throws -> ProcessResult {
        try ProcessRunner.run(
            systemdAnalyze, ["verify", "--man=no", "--recursive-errors=no"] + units,
            environment: ["SYSTEMD_LOG_COLOR": "0"], check: false)
    }

    /// `nix-instantiate` with no Nix store to write to, no build users and no network: `--store dummy://` evaluates
    /// and parses without touching `/nix`.
    static func nix(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(
            nixInstantiate, ["--store", "dummy://", "--option", "build-users-group", ""] + arguments,
            environment: ["NIX_PATH": nil], check: false)
    }

    /// A directory holding `bin/smart-sync` (a symlink to the built binary), standing in for the Nix package or for
    /// `/usr/local` in `ExecStart=`, so that `systemd-analyze verify` finds an executable.
    static func packageDirectory(in scratch: TemporaryDirectory) throws -> String {
        let package = scratch.appending("package")
        try FileManager.default.createDirectory(atPath: package + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: package + "/bin/smart-sync", withDestinationPath: try SmartSyncBinary.path())
        return package
    }

    /// Writes `files` (relative path → text) under `directory`, creating drop-in directories.
    static func write(_ files: [String: String], under directory: String) throws {
        for (name, text) in files {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
    }

    /// The `Key=value` lines of `section` in unit-file text, in order (comments and blank lines left out).
    static func settings(_ text: String, section: String) -> [(key: String, value: String)] {
        var current = ""
        var result: [(key: String, value: String)] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                current = String(line.dropFirst().dropLast())
            } else if current == section, let eq = line.firstIndex(of: "=") {
                result.append((String(line[..<eq]), String(line[line.index(after: eq)...])))
            }
        }
        return result
    }

    /// Systemd's spellings of a boolean, as one.
    static func normalized(_ value: String) -> String {
        switch value {
        case "yes", "true", "on", "1": return "yes"
        case "no", "false", "off", "0": return "no"
        default: return value
        }
    }
}
