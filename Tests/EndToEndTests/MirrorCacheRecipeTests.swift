import Foundation
import Glibc
import TestSupport
import Testing

/// docs/MIRROR.md "Behind a cache": the nginx blocks operators copy are valid (`nginx -t`), and they are exactly what
/// the fleet test (`Fleet.startServers`) and the fleet benchmark (tools/benchlib/fleet.py) run. Both read the blocks
/// from the doc; what they run is compared with the doc directive by directive: every directive of the doc is there,
/// and nothing else is but the harness's own (ports, logs, temp paths, the benchmark's git server). A directive added
/// or changed in the test or the benchmark, and not in the doc, fails here.
@Suite("the nginx cache recipe", .serialized)
struct MirrorCacheRecipeTests {
    /// What a running configuration may hold beyond the doc's blocks: the process, logs and temp paths, the origin's
    /// `listen` and `root`, NginxServer's `server_name` and empty `location / { }`, the benchmark origin's git server.
    static let harness = [
        "user ", "worker_processes ", "error_log ", "pid ", "events {", "events > ", "http {", "http > log_format ",
        "http > access_log ", "http > default_type ", "http > keepalive_requests ", "http > client_body_temp_path ",
        "http > proxy_temp_path ", "http > fastcgi_temp_path ", "http > uwsgi_temp_path ", "http > scgi_temp_path ",
        "http > server {", "http > server > listen ", "http > server > server_name ", "http > server > root ",
        "http > server > location / {", "http > server > location /git/ ",
    ]

    /// The micro-cache lifetimes checked: refs passed through, and micro-cached.
    static let refsCaches: [Int?] = [nil, 10]

    @Test(.enabled(if: NginxServer.isAvailable, "needs nginx"))
    func theDocsBlocksAreValidNginx() throws {
        let nginx = try FleetNginx.fromDocs()
        let dir = try TemporaryDirectory(prefix: "cache-recipe")
        for refsCache in Self.refsCaches {
            let cache = try nginx.cacheConfig(
                listen: "127.0.0.1:8082", origin: "127.0.0.1:8081", directory: dir.appending("cache"),
                refsCache: refsCache)
            #expect(!cache.contains("origin.example") && !cache.contains("/var/cache"), "\(cache)")
            let test = try Self.nginxTest(origin: nginx.origin, cache: cache, in: dir)
            let valid = test.succeeded
            #expect(valid, "nginx -t of docs/MIRROR.md's blocks (refs cache \(refsCache ?? 0) s): \(test.stderrString)")
            #expect(
                NginxDirectives(cache).lines.contains {
                    $0.hasSuffix("> proxy_ignore_headers Cache-Control Expires")
                } == (refsCache != nil))
        }
        // nginx -t does reject a wrong directive: a check that can fail.
        let broken =
            try nginx.cacheConfig(listen: "127.0.0.1:8082", origin: "127.0.0.1:8081", directory: dir.path)
            + "\nproxy_cache_lock maybe;"
        #expect(try !Self.nginxTest(origin: nginx.origin, cache: broken, in: dir).succeeded)
    }

    @Test(.enabled(if: NginxServer.isAvailable, "needs nginx"))
    func theFleetTestRunsTheDocsConfiguration() throws {
        let nginx = try FleetNginx.fromDocs()
        for refsCache in Self.refsCaches {
            let fleet = try Fleet(hosts: 0)
            try fleet.startServers(refsCache: refsCache)
            let origin = try #require(fleet.origin)
            let cache = try #require(fleet.cache)
            Self.expectDocs(
                NginxDirectives(nginx.origin, context: ["http", "server"]),
                running: try #require(TestFiles.read(origin.directory + "/nginx.conf")), "the fleet test's origin")
            let docCache = try nginx.cacheConfig(
                listen: "127.0.0.1:\(cache.port)", origin: "127.0.0.1:\(origin.port)", directory: fleet.cacheDirectory,
                refsCache: refsCache)
            Self.expectDocs(
                NginxDirectives(docCache, context: ["http"]),
                running: try #require(TestFiles.read(cache.directory + "/nginx.conf")),
                "the fleet test's cache (refs cache \(refsCache ?? 0) s)")
            fleet.stopServers()
        }
    }

    @Test func theBenchRunsTheDocsConfiguration() throws {
        let nginx = try FleetNginx.fromDocs()
        let (d, store, port, upstream) = ("/bench/cache", "/bench/store", 8082, "127.0.0.1:8081")
        let script = """
            import json, sys
            sys.path.insert(0, sys.argv[1])
            from benchlib import fleet
            print(json.dumps([fleet.origin_conf("/bench/origin", 8081, "/bench/www", "/bench/sock", "/bench/projects")]
                + [fleet.cache_conf("\(d)", \(port), "\(upstream)", "\(store)", n) for n in (0, 10)]))
            """
        let run = try ProcessRunner.run(
            "python3", ["-c", script, SmartSyncBinary.packageRoot + "/tools"], check: false)
        try #require(run.succeeded, "\(run.stderrString)")
        let configs = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout)) as? [String])
        try #require(configs.count == 3)
        Self.expectDocs(
            NginxDirectives(nginx.origin, context: ["http", "server"]), running: configs[0], "the benchmark's origin")
        for (config, refsCache) in zip(configs.dropFirst(), Self.refsCaches) {
            let docCache = try nginx.cacheConfig(
                listen: "127.0.0.1:\(port)", origin: upstream, directory: store, refsCache: refsCache)
            Self.expectDocs(
                NginxDirectives(docCache, context: ["http"]), running: config,
                "the benchmark's cache (refs cache \(refsCache ?? 0) s)")
        }
    }

    /// `running` holds every directive of `docs` and nothing else but `harness`.
    static func expectDocs(
        _ docs: NginxDirectives, running: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let running = NginxDirectives(running)
        let missing = docs.subtracting(running)
        let extra = running.subtracting(docs).filter { line in !harness.contains { line.hasPrefix($0) } }
        #expect(
            missing.isEmpty, "\(what) lacks docs/MIRROR.md's:\n\(missing.joined(separator: "\n"))",
            sourceLocation: sourceLocation)
        #expect(
            extra.isEmpty, "\(what) runs what docs/MIRROR.md does not say:\n\(extra.joined(separator: "\n"))",
            sourceLocation: sourceLocation)
    }

    /// `nginx -t` of a configuration with the origin's block in a server on 127.0.0.1:8081 and `cache` beside it.
    static func nginxTest(origin: String, cache: String, in dir: TemporaryDirectory) throws -> ProcessResult {
        let config = """
            \(geteuid() == 0 ? "user root root;" : "")
            error_log \(dir.path)/error.log;
            pid \(dir.path)/nginx.pid;
            events { }
            http {
                client_body_temp_path \(dir.path)/body;
                proxy_temp_path \(dir.path)/proxy;
                fastcgi_temp_path \(dir.path)/fastcgi;
                uwsgi_temp_path \(dir.path)/uwsgi;
                scgi_temp_path \(dir.path)/scgi;
                server {
                    listen 127.0.0.1:8081;
                    root \(dir.path)/www;
            \(origin)
                }
            \(cache)
            }
            """
        try TestFiles.write(dir.appending("nginx.conf"), config)
        return try ProcessRunner.run(
            NginxServer.executable,
            ["-t", "-q", "-e", dir.appending("error.log"), "-p", dir.path + "/", "-c", dir.appending("nginx.conf")],
            check: false)
    }
}
