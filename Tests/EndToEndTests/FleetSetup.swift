import Foundation
import SmartSyncCore
import TestSupport
import Testing

/// The fleet of issue 14: a fixture repository published (`smart-sync publish --sign-key`) into a mirror directory,
/// an nginx serving it as the origin mirror at `/mirror/`, an nginx `proxy_cache` in front of it (the configuration
/// of docs/MIRROR.md "Behind a cache", read from the doc: `FleetNginx`), and `hosts` hosts, each with its own store,
/// state directory and target, running the real `smart-sync` concurrently against the cache with `--trusted-key`
/// (never the GitHub origin: its URLs point at a closed port).
final class Fleet: @unchecked Sendable {
    let repo: GitFixture
    let dirs: TemporaryDirectory
    let hosts: Int
    let slug = "acme/hyper"
    /// The origin's document root: the mirror is its `mirror` directory, served at `/mirror/` as in docs/MIRROR.md.
    var originRoot: String { dirs.appending("www") }
    var mirrorDirectory: String { originRoot + "/mirror" }
    var keyPath: String { dirs.appending("signing-key") }
    var allowedSigners: String { dirs.appending("allowed_signers") }
    private(set) var origin: NginxServer?
    private(set) var cache: NginxServer?
    /// The cache's storage (`proxy_cache_path`), a new one for each `startServers`.
    private(set) var cacheDirectory = ""
    /// The mirror's URL through the cache.
    var cacheURL: String { (cache?.baseURL ?? "http://127.0.0.1:9") + "/mirror" }
    /// A port nothing listens on: where the GitHub origin "is", so a host that asked it would fail.
    static let closedURL = "http://127.0.0.1:9"

    /// Why the fleet test cannot run here (nil: it can): nginx, ssh-keygen, `publish` and `--mirror` are needed.
    static let missing: String? = {
        guard NginxServer.isAvailable else { return "nginx is not installed" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-keygen") else { return "no ssh-keygen" }
        guard let publish = try? SmartSyncBinary.run(["publish", "--help"], check: false),
            publish.stdoutString.contains("--sign-key")
        else {
            return "this build has no `smart-sync publish` (issue 14 part 1, branch fleet-publish)"
        }
        guard let sync = try? SmartSyncBinary.run(["sync", "--help"], check: false),
            sync.stdoutString.contains("--mirror"), sync.stdoutString.contains("--trusted-key")
        else { return "this build has no `--mirror` / `--trusted-key` (issue 14 part 2, branch fleet-mirror)" }
        return nil
    }()

    init(hosts: Int) throws {
        self.hosts = hosts
        repo = try GitFixture()
        dirs = try TemporaryDirectory(prefix: "fleet")
        try ProcessRunner.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "fleet", "-f", keyPath])
        let publicKey = try String(contentsOfFile: keyPath + ".pub", encoding: .utf8)
            .split(separator: " ").prefix(2).joined(separator: " ")
        try "fleet@example.invalid namespaces=\"smart-sync\" \(publicKey)\n"
            .write(toFile: allowedSigners, atomically: true, encoding: .utf8)
    }

    deinit { stopServers() }

    /// `smart-sync publish --source REPO --name acme/hyper --ref main --to MIRROR --sign-key KEY`; must succeed.
    func publish() throws {
        let r = try SmartSyncBinary.run(
            [
                "publish", "--source", repo.path, "--name", slug, "--ref", "main", "--to", mirrorDirectory,
                "--sign-key", keyPath,
            ], environment: environment, check: false)
        try #require(r.succeeded, "publish failed: \(r.stderrString)")
    }

    /// Starts the origin (serving the mirror directory; `originConfig` is added to its `server { }`) and an empty cache
    /// in front of it, which passes `refs` and `refs.sig` through (`refsCache` nil) or micro-caches them for that many
    /// seconds.
    func startServers(originConfig: String = "", refsCache: Int? = nil) throws {
        let nginx = try FleetNginx.fromDocs()
        try TestFiles.makeDirectories(originRoot)
        let origin = try NginxServer(
            root: originRoot, serverConfig: nginx.origin + "\n" + originConfig, tls: false,
            logFormat: FleetNginx.logFormat)
        self.origin = origin
        cacheDirectory = dirs.appending("cache-\(origin.port)")
        let config = try nginx.cacheForNginxServer(
            origin: "127.0.0.1:\(origin.port)", directory: cacheDirectory, refsCache: refsCache)
        cache = try NginxServer(
            serverConfig: config.server, httpConfig: config.http, tls: false,
            logFormat: FleetNginx.logFormat + " $upstream_cache_status")
    }

    /// Stops both servers (the network is down for the hosts afterwards).
    func stopServers() {
        cache?.stop()
        origin?.stop()
        cache = nil
        origin = nil
    }

    /// The origin's access log: each request's URI, status and body bytes.
    func originRequests() -> [FleetRequest] { (origin?.accessLogLines() ?? []).compactMap(FleetRequest.init) }

    /// The host's directories: `<fleet>/host-N/{store,state,target}`.
    func host(_ n: Int) -> String { dirs.appending("host-\(n)") }

    /// The environment every host runs with: no tokens, no user config, no proxy for loopback.
    var environment: [String: String?] {
        [
            "GH_TOKEN": nil, "GITHUB_TOKEN": nil, "GH_ENTERPRISE_TOKEN": nil, "GITHUB_ENTERPRISE_TOKEN": nil,
            "HOME": dirs.path, "XDG_CONFIG_HOME": dirs.appending("config"), "NO_COLOR": "1",
            "PATH": "/usr/local/bin:/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        ]
    }

    /// The arguments of host `n`'s `smart-sync <command> acme/hyper …` against `mirrors` (in order).
    func arguments(_ command: String, host n: Int, mirrors: [String], _ extra: [String]) -> [String] {
        var args = [
            command, slug, "--api-url", Self.closedURL, "--raw-url", Self.closedURL, "--git-url", Self.closedURL,
        ]
        args += mirrors.flatMap { ["--mirror", $0] } + ["--trusted-key", allowedSigners]
        args += ["--store", host(n) + "/store", "--state-dir", host(n) + "/state", "--json"]
        if command != "warm" { args += ["--target", host(n) + "/target"] }
        return args + extra
    }

    /// Runs `command` on every host at once (one process each) and waits for all; returns each host's result.
    func runAll(_ command: String, mirrors: [String], _ extra: [String] = []) throws -> [HostRun] {
        let env = ChildEnvironment.applying(environment, to: ChildEnvironment.current)
        let binary = try SmartSyncBinary.path()
        var started: [(Int, ChildProcess)] = []
        for n in 0..<hosts {
            try FileManager.default.createDirectory(atPath: host(n), withIntermediateDirectories: true)
            let process = try ProcessRunner(
                binary, arguments(command, host: n, mirrors: mirrors, extra), environment: env
            )
            .start(output: .file(host(n) + "/\(command).out"), error: .file(host(n) + "/\(command).err"))
            started.append((n, process))
        }
        return started.map { n, process in
            let termination = process.wait(timeout: .seconds(120)) ?? process.terminate()
            let read = { (name: String) in
                (try? String(contentsOfFile: self.host(n) + "/" + name, encoding: .utf8)) ?? ""
            }
            return HostRun(
                host: n, termination: termination, stdout: read("\(command).out"), stderr: read("\(command).err"))
        }
    }

    /// The files of the mirror directory (relative paths), e.g. to tell what a publish added.
    func mirrorFiles() throws -> Set<String> {
        Set(try FileManager.default.subpathsOfDirectory(atPath: mirrorDirectory).filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: mirrorDirectory + "/" + $0, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        })
    }
}

/// One host's run: how it ended and what it printed.
struct HostRun: CustomStringConvertible {
    var host: Int
    var termination: Termination
    var stdout, stderr: String

    /// The bytes the host received, from its last NDJSON summary (`requests.bytesReceived`, else `bytesReceived`).
    var bytesReceived: Int? {
        for line in stdout.split(separator: "\n").reversed() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["event"] as? String == "summary"
            else { continue }
            if let requests = object["requests"] as? [String: Any], let n = requests["bytesReceived"] as? Int {
                return n
            }
            return object["bytesReceived"] as? Int
        }
        return nil
    }

    var description: String { "host \(host): \(termination)\n\(stderr.suffix(1500))" }
}

/// One line of the origin's access log (`FleetNginx.logFormat`).
struct FleetRequest: Hashable {
    /// The request's URI below the mirror's `/mirror` (`/refs`, `/packs/….pack`).
    var uri: String
    var status: Int
    var bytes: Int

    init?(_ line: String) {
        let fields = line.split(separator: " ")
        guard fields.count >= 3, let status = Int(fields[1]), let bytes = Int(fields[2]) else { return nil }
        uri = fields[0].hasPrefix("/mirror/") ? String(fields[0].dropFirst("/mirror".count)) : String(fields[0])
        self.status = status
        self.bytes = bytes
    }

    /// Whether the name is immutable (everything but `refs` and `refs.sig`): served at most once through a cache.
    var isImmutable: Bool { uri != "/refs" && uri != "/refs.sig" }
}
