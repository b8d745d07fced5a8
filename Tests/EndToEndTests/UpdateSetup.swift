import Foundation
import Glibc
import TestSupport
import Testing

/// A scenario at commit A (synced), commit B made, and a rebuild script that logs each run.
///
/// The script's environment (given as a prefix of the rebuild command): `FAIL_ON=TEXT` fails when bridge.nix holds
/// that text; `MARKER=FILE` deletes that file for B's tree and creates it for any other; `BLOCK_ON=0|1` (the value of
/// `SMART_SYNC_ROLLBACK`) touches `started-<value>` and waits for the file `go` before going on.
struct UpdateSetup {
    let s: Scenario
    let a: String
    let b: String
    var log: String { s.dirs.appending("rebuild.log") }
    var script: String { s.dirs.appending("rebuild.sh") }
    var treehash: String { s.dirs.appending("treehash.sh") }
    var config: String { s.dirs.appending("checks.toml") }
    var root: String { s.dirs.appending("root") }
    var sidecar: String { s.dirs.appending(".target.smart-sync") }
    /// Created by the test to let a blocked command (`BLOCK_ON`) go on.
    var go: String { s.dirs.appending("go") }

    init(checks: String = "") throws {
        s = try Scenario()
        a = try Fixtures.commitA(s.repo)
        try s.sync()
        b = try Fixtures.commitB(s.repo)
        try Self.write(
            treehash,
            """
            #!/bin/sh
            # A hash over every path and content under $1.
            cd "$1" && find . \\( -type f -o -type l \\) -print | LC_ALL=C sort | while IFS= read -r p; do
              printf '%s ' "$p"; if [ -L "$p" ]; then readlink "$p"; else sha1sum < "$p"; fi
            done | sha1sum | cut -c1-40

            """)
        try Self.write(
            script,
            """
            #!/bin/sh
            echo "action=$1 target=$2 host=$3 rollback=$SMART_SYNC_ROLLBACK hash=$(\(treehash) "$2")" >> \(log)
            echo "rebuilding $3"
            if [ -n "$BLOCK_ON" ] && [ "$SMART_SYNC_ROLLBACK" = "$BLOCK_ON" ]; then
              touch \(s.dirs.appending("started-"))$SMART_SYNC_ROLLBACK
              i=0; while [ ! -e \(go) ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
            fi
            if [ -n "$MARKER" ]; then
              if grep -q enp3s0 "$2/modules/net/bridge.nix"; then rm -f "$MARKER"; else touch "$MARKER"; fi
            fi
            if [ -n "$FAIL_ON" ] && grep -q "$FAIL_ON" "$2/modules/net/bridge.nix"; then
              echo "error: the build of $3 failed" >&2; exit 1
            fi
            exit 0

            """)
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try Data("builtin = false\n\(checks)".utf8).write(to: URL(fileURLWithPath: config))
    }

    static func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    /// `update`'s own arguments: the test's config and root, the rebuild command with `env` as its prefix, host `hv1`.
    func updateArguments(_ extra: [String], env: String) -> [String] {
        [
            "--config", config, "--root", root, "--hostname", "hv1", "--rebuild-command",
            "\(env) \(script) {action} {target} {hostname}",
        ] + extra
    }

    /// `update` with the test's config and root, the given rebuild command prefix, host `hv1`.
    func update(_ extra: [String], env: String = "") throws -> ProcessResult {
        try s.run("update", updateArguments(extra, env: env))
    }

    /// Starts `update` and returns without waiting (see ``Scenario/start(_:_:name:environment:)``).
    func startUpdate(_ extra: [String], env: String = "", environment: [String: String?] = [:]) throws -> ChildProcess {
        try s.start("update", updateArguments(extra, env: env), name: "update", environment: environment)
    }

    /// Waits (up to a minute: a bound, not a timing) until `path` exists; false when it never does.
    func waitFor(_ path: String) -> Bool {
        for _ in 0..<600 {
            if FileManager.default.fileExists(atPath: path) { return true }
            usleep(100_000)
        }
        return false
    }

    /// The rebuild log's lines (none when it never ran).
    func runs() -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The tree hash of `git archive` of `commit`.
    func archiveHash(_ commit: String) throws -> String {
        let dir = try TemporaryDirectory(prefix: "archive")
        try s.repo.archive(commit: commit, into: dir.path)
        return try ProcessRunner.run(treehash, [dir.path]).output
    }
}
