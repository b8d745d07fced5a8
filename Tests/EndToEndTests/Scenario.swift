import Foundation
import TestSupport
import Testing

/// One end-to-end setup: a fixture repository served by the fake GitHub, plus a target, store and state
/// directory, and a way to run the real `smart-sync` binary against them.
final class Scenario: @unchecked Sendable {
    let repo: GitFixture
    let server: FakeGitHub
    let dirs: TemporaryDirectory
    let slug = "acme/hyper"
    /// Where target, store and state live (a temporary directory, or a file system a test mounted).
    var root: String
    var target: String { root + "/target" }
    var store: String { root + "/store" }
    var stateDir: String { root + "/state" }

    init(
        repo: GitFixture? = nil, truncateTreeOver: Int? = nil, token: String? = nil, privateRepo: Bool = false,
        rateLimit: Int? = nil
    ) throws {
        self.repo = try repo ?? GitFixture()
        server = try FakeGitHub(
            repos: [slug: self.repo.path], truncateTreeOver: truncateTreeOver,
            privateRepos: privateRepo ? [slug] : [], token: token, rateLimit: rateLimit)
        dirs = try TemporaryDirectory(prefix: "e2e")
        root = dirs.path
    }

    deinit { server.stop() }

    /// The environment every run gets: no tokens from the developer's machine, no user config.
    func environment(token: String? = nil) -> [String: String?] {
        [
            "GH_TOKEN": token, "GITHUB_TOKEN": nil, "GH_ENTERPRISE_TOKEN": nil, "GITHUB_ENTERPRISE_TOKEN": nil,
            "XDG_CONFIG_HOME": dirs.appending("config"),
            "HOME": dirs.path, "NO_COLOR": "1", "PATH": "/usr/local/bin:/usr/bin:/bin",
            // The servers are on loopback: a proxy from the machine's environment must not intercept them.
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        ]
    }

    /// Runs `smart-sync <command> acme/hyper --api-url … --raw-url … --store … --state-dir … <extra>`.
    @discardableResult
    func run(
        _ command: String, _ extra: [String] = [], rawURL: String? = nil, token: String? = nil, target: String? = nil,
        environment more: [String: String?] = [:]
    ) throws -> ProcessResult {
        try SmartSyncBinary.run(
            arguments(command, extra, rawURL: rawURL, target: target),
            environment: environment(token: token).merging(more) { $1 }, check: false)
    }

    /// The arguments ``run(_:_:rawURL:token:target:environment:)`` passes.
    func arguments(_ command: String, _ extra: [String], rawURL: String? = nil, target: String? = nil) -> [String] {
        // --git-url too: a fallback must reach the test server's git listener, never a host outside.
        var args = [command, slug, "--api-url", server.apiURL, "--raw-url", rawURL ?? server.rawURL]
        args += ["--git-url", server.gitURL]
        // These tests exercise the per-blob path (REST + raw) unless they ask for a transport: the pack transport has
        // its own tests against git http-backend behind nginx (PackTransportEndToEndTests).
        if !extra.contains("--transport") && ["sync", "plan", "warm", "update", "verify"].contains(command) {
            args += ["--transport", "raw"]
        }
        args += ["--store", store, "--state-dir", stateDir]
        if command != "warm" { args += ["--target", target ?? self.target] }
        return args + extra
    }

    /// Starts `smart-sync <command> …` as ``run(_:_:rawURL:token:target:environment:)`` would and returns without
    /// waiting; its stdout and stderr go to `<name>.out` and `<name>.err` in ``dirs`` (files, so that a child it leaves
    /// behind when killed holds no pipe open). `environment` is added to the usual one.
    func start(_ command: String, _ extra: [String], name: String, environment extra2: [String: String?] = [:])
        throws -> ChildProcess
    {
        let env = ChildEnvironment.applying(
            environment().merging(extra2, uniquingKeysWith: { $1 }), to: ChildEnvironment.current)
        return try ProcessRunner(try SmartSyncBinary.path(), arguments(command, extra), environment: env)
            .start(output: .file(dirs.appending("\(name).out")), error: .file(dirs.appending("\(name).err")))
    }

    /// Runs `smart-sync <arguments>` (whole, not through ``arguments(_:_:rawURL:target:)``) with its stdout a pipe
    /// whose reader is gone before the run writes (`… | true`, `true` already exited) and its stderr in
    /// `<name>.err`; how it ended.
    func runIntoClosedPipe(_ arguments: [String], name: String) throws -> Termination {
        let env = ChildEnvironment.applying(environment(), to: ChildEnvironment.current)
        let child = try ProcessRunner(try SmartSyncBinary.path(), arguments, environment: env)
            .start(output: .pipe, error: .file(dirs.appending("\(name).err")))
        // Our read end becomes /dev/null: the pipe's only reader closes (the handle closes /dev/null later).
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        try #require(dup2(null, try #require(child.standardOutput)) >= 0)
        close(null)
        return child.wait()
    }

    /// `sync` that must succeed; returns the JSON summary.
    @discardableResult
    func sync(_ extra: [String] = [], rawURL: String? = nil, token: String? = nil) throws -> [String: Any] {
        let r = try run("sync", extra + ["--json"], rawURL: rawURL, token: token)
        try #require(r.status == 0, "sync failed: \(r.stderrString)\n\(r.stdoutString)")
        return try Self.summary(r)
    }

    /// The last NDJSON line with `"event": "summary"`.
    static func summary(_ r: ProcessResult) throws -> [String: Any] {
        for line in r.stdoutString.split(separator: "\n").reversed() {
            if let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["event"] as? String == "summary"
            {
                return object
            }
        }
        throw ScenarioError("no summary in output: \(r.stdoutString) \(r.stderrString)")
    }

    /// Asserts the target equals `git archive` of `commit` (content, exec bits, symlinks).
    func expectTargetEqualsArchive(_ commit: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let want = try archiveSnapshot(commit)
        let got = try DirectorySnapshot(of: target)
        #expect(
            got == want, "target differs from git archive \(commit):\n\(got.difference(from: want))",
            sourceLocation: sourceLocation)
    }

    /// What `git archive COMMIT` holds, as a snapshot.
    func archiveSnapshot(_ commit: String) throws -> DirectorySnapshot { try repo.archiveSnapshot(commit: commit) }

    /// Raw-host requests logged since the last clear.
    func rawRequests() throws -> [LoggedRequest] { try server.requests().filter { $0.listener == "raw" } }
    /// API requests logged since the last clear.
    func apiRequests() throws -> [LoggedRequest] { try server.requests().filter { $0.listener == "api" } }
}

/// A repository exercising every mode and awkward names, and a second commit that touches each change kind.
enum Fixtures {
    /// Commit A: files, executables, symlinks, nested dirs, unicode and space names, an empty file, duplicates.
    static func commitA(_ repo: GitFixture) throws -> String {
        try repo.write("README.md", "# hyper\n")
        try repo.write("flake.nix", "{ outputs = { self }: { }; }\n")
        try repo.write("empty", "")
        try repo.write("scripts/menu.sh", "#!/bin/sh\necho menu\n", executable: true)
        try repo.write("scripts/old.sh", "#!/bin/sh\necho old\n", executable: true)
        try repo.write("scripts/tool.sh", "#!/bin/sh\necho tool\n")
        try repo.write("modules/net/bridge.nix", "{ bridge = \"eno1\"; }\n")
        try repo.write("modules/net/dup-a.nix", "{ same = true; }\n")
        try repo.write("modules/net/dup-b.nix", "{ same = true; }\n")
        try repo.write("docs/ünïcødé ☃ notes.md", "snow\n")
        try repo.write("docs/with space.txt", "space\n")
        try repo.write("data/blob.bin", (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try repo.symlink("menu", to: "scripts/menu.sh")
        try repo.symlink("docs/latest", to: "with space.txt")
        return try repo.commit("A")
    }

    /// Commit B from A: modify, add (two identical new files), delete, exec flip both ways, symlink retarget,
    /// rename, a unicode rename.
    static func commitB(_ repo: GitFixture) throws -> String {
        try repo.write("modules/net/bridge.nix", "{ bridge = \"enp3s0\"; }\n")
        try repo.write("modules/gpu.nix", "{ vfio = true; }\n")
        try repo.write("modules/gpu-copy.nix", "{ vfio = true; }\n")
        try repo.remove("scripts/old.sh")
        try repo.write("scripts/menu.sh", "#!/bin/sh\necho menu\n", executable: false)
        try repo.write("scripts/tool.sh", "#!/bin/sh\necho tool\n", executable: true)
        try repo.remove("menu")
        try repo.symlink("menu", to: "scripts/tool.sh")
        try repo.remove("docs/with space.txt")
        try repo.write("docs/renamed space.txt", "space\n")
        try repo.remove("docs/latest")
        try repo.symlink("docs/latest", to: "renamed space.txt")
        try repo.remove("docs/ünïcødé ☃ notes.md")
        try repo.write("docs/ñew ☃ notes.md", "snow\n")
        return try repo.commit("B")
    }
}

struct ScenarioError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
