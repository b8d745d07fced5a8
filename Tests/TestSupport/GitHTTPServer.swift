import Foundation
import Glibc
import Synchronization

/// One request as ``GitHTTPServer``'s nginx logged it.
public struct GitHTTPRequest: Sendable, Equatable {
    public var method: String
    /// The request URI with its query (`/octo/demo.git/info/refs?service=git-upload-pack`).
    public var uri: String
    public var status: Int
    /// Bytes of the request: line, headers and body (`$request_length`).
    public var requestLength: Int
    /// Bytes sent to the client: status line, headers and body (`$bytes_sent`).
    public var bytesSent: Int
    /// nginx's connection serial number: requests with the same one shared a connection.
    public var connection: Int
    /// The request's number on its connection (1 for the first).
    public var connectionRequests: Int
    /// Whether an `Authorization` header came (never its value).
    public var hadAuthorization: Bool
    /// The `Git-Protocol` header (`-` when absent).
    public var gitProtocol: String
}

/// A real git smart-HTTP server for tests: nginx on a free loopback port (plain HTTP/1.1) handing
/// `/{owner}/{repo}.git/info/refs` and `/{owner}/{repo}.git/git-upload-pack` to `git http-backend` through
/// `fcgiwrap`, for every bare repository under ``root``.
///
/// The `Git-Protocol` header is passed as `GIT_PROTOCOL`, so protocol v2 works (unless `protocolV2: false`, which
/// leaves the server speaking v0). Repositories allow `filter` and any SHA-1 in `want`, as GitHub does (through
/// `GIT_CONFIG_*`, never written into the repositories). `/dumb/...` serves the same tree as static files (git's
/// dumb HTTP layout). The access log records, per request, the method, URI, status, `$request_length`,
/// `$bytes_sent` and `$connection`: see ``requests()``.
public final class GitHTTPServer: Sendable {
    public static let fcgiwrapExecutable = "/usr/sbin/fcgiwrap"
    public static let httpBackend = "/usr/lib/git-core/git-http-backend"

    /// Holds `{owner}/{repo}.git` bare repositories (or symlinks to them).
    public let root: String
    /// `http://127.0.0.1:PORT`
    public var baseURL: String { nginx.baseURL }
    /// fcgiwrap's socket.
    public let socketPath: String

    private let nginx: NginxServer
    private let fcgiwrap = BackgroundProcess()
    private let fcgiwrapPID: pid_t
    /// Whether fcgiwrap was killed; held for the whole of ``stop()``.
    private let killed = Mutex(false)
    private let scratch: TemporaryDirectory

    /// Starts fcgiwrap and nginx.
    ///
    /// - Parameters:
    ///   - repositories: `owner/repo` → path of a bare repository, linked under ``root``.
    ///   - protocolV2: pass `Git-Protocol` to git (false: the server answers protocol v0 whatever the client asks).
    ///   - requiredAuthorization: when set, requests without exactly this `Authorization` value get a 401.
    ///   - gitConfig: more `git -c` settings for the served repositories (e.g. `uploadpack.allowRefInWant`).
    /// - Throws: when fcgiwrap, nginx or git-http-backend is missing (install `fcgiwrap`, `nginx-light`, `git`).
    public init(
        repositories: [String: String] = [:], protocolV2: Bool = true, requiredAuthorization: String? = nil,
        gitConfig: [(String, String)] = []
    ) throws {
        for (tool, package) in [
            (Self.fcgiwrapExecutable, "fcgiwrap"), (NginxServer.executable, "nginx-light"), (Self.httpBackend, "git"),
        ] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw LoopbackServerError(
                "\(tool) is missing: install \(package) (apt-get install \(package); CI's .ci/run installs it)")
        }
        scratch = try TemporaryDirectory(prefix: "smart-sync-git-http")
        root = scratch["repos"]
        socketPath = scratch["fcgiwrap.sock"]
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for (name, path) in repositories { try Self.link(name: name, to: path, root: root) }

        let process = try ProcessRunner(
            Self.fcgiwrapExecutable, ["-s", "unix:" + socketPath], environment: ChildEnvironment.current
        ).start()
        fcgiwrap.adopt(process)
        fcgiwrapPID = process.pid
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socketPath) {
            guard process.isRunning, Date() < deadline else {
                fcgiwrap.stop()
                throw LoopbackServerError("fcgiwrap did not create its socket \(socketPath) within 10 s")
            }
            usleep(10_000)
        }
        do {
            nginx = try NginxServer(
                root: root,
                serverConfig: Self.serverConfig(
                    root: root, socket: socketPath, protocolV2: protocolV2,
                    requiredAuthorization: requiredAuthorization, gitConfig: gitConfig),
                httpConfig: #"map $http_authorization $smartsync_auth { "" 0; default 1; }"#,
                tls: false,
                logFormat: "$request_method $request_uri $status $request_length $bytes_sent $connection "
                    + "$connection_requests $smartsync_auth $http_git_protocol")
        } catch {
            fcgiwrap.stop()
            scratch.remove()
            throw error
        }
    }

    deinit { stop() }

    /// `http://127.0.0.1:PORT/owner/repo.git`
    public func url(_ repository: String) -> String { baseURL + "/" + repository + ".git" }

    /// Serves one more bare repository as `owner/repo`.
    public func add(_ repository: String, path: String) throws {
        try Self.link(name: repository, to: path, root: root)
    }

    /// Stops nginx and fcgiwrap and removes the socket and scratch directory. Idempotent.
    public func stop() {
        nginx.stop()
        // fcgiwrap inherits the test runner's blocked SIGTERM and holds no state: kill it outright rather than wait
        // out BackgroundProcess's 5 s grace period. (Not yet reaped, so the pid is still our child's.)
        killed.withLock { killed in
            if !killed {
                killed = true
                kill(fcgiwrapPID, SIGKILL)
            }
            if fcgiwrap.stop() {
                unlink(socketPath)
                scratch.remove()
            }
        }
    }

    /// Every request logged so far, in order.
    public func requests() -> [GitHTTPRequest] {
        nginx.accessLogLines().compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 9, let status = Int(f[2]), let length = Int(f[3]), let sent = Int(f[4]),
                let connection = Int(f[5]), let serial = Int(f[6])
            else { return nil }
            return GitHTTPRequest(
                method: f[0], uri: f[1], status: status, requestLength: length, bytesSent: sent,
                connection: connection, connectionRequests: serial, hadAuthorization: f[7] == "1",
                gitProtocol: f[8...].joined(separator: " "))
        }
    }

    /// The requests logged so far, once there are at least `count` (nginx writes a request's line just after its
    /// last byte, so a client can be done a moment before): waits up to `timeout` seconds.
    public func requests(atLeast count: Int, timeout: Double = 5) -> [GitHTTPRequest] {
        let deadline = Date().addingTimeInterval(timeout)
        var logged = requests()
        while logged.count < count && Date() < deadline {
            usleep(10_000)
            logged = requests()
        }
        return logged
    }

    /// nginx's error log (git http-backend's stderr lands there), for diagnostics.
    public func errorLog() -> String { nginx.errorLog() }

    private static func link(name: String, to path: String, root: String) throws {
        let link = root + "/" + name + ".git"
        try FileManager.default.createDirectory(
            atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
    }

    private static func serverConfig(
        root: String, socket: String, protocolV2: Bool, requiredAuthorization: String?, gitConfig: [(String, String)]
    ) -> String {
        let config =
            [
                ("uploadpack.allowFilter", "true"), ("uploadpack.allowAnySHA1InWant", "true"), ("safe.directory", "*"),
            ] + gitConfig
        var params = [
            ("SCRIPT_FILENAME", httpBackend), ("GIT_PROJECT_ROOT", root), ("GIT_HTTP_EXPORT_ALL", "1"),
            ("PATH_INFO", "$uri"), ("QUERY_STRING", "$query_string"), ("REQUEST_METHOD", "$request_method"),
            ("CONTENT_TYPE", "$content_type"), ("CONTENT_LENGTH", "$content_length"), ("REMOTE_USER", "$remote_user"),
            ("REMOTE_ADDR", "$remote_addr"), ("PATH", "/usr/bin:/bin"), ("HOME", root),
            ("GIT_CONFIG_NOSYSTEM", "1"), ("GIT_CONFIG_GLOBAL", "/dev/null"), ("GIT_CONFIG_COUNT", "\(config.count)"),
        ]
        for (i, (key, value)) in config.enumerated() {
            params += [("GIT_CONFIG_KEY_\(i)", key), ("GIT_CONFIG_VALUE_\(i)", value)]
        }
        // git http-backend reads HTTP_GIT_PROTOCOL itself too (nginx passes every header as HTTP_*): blank it for v0.
        params.append(protocolV2 ? ("GIT_PROTOCOL", "$http_git_protocol") : ("HTTP_GIT_PROTOCOL", ""))
        let auth = requiredAuthorization.map {
            #"if ($http_authorization != "\#($0)") { "#
                + #"add_header WWW-Authenticate 'Basic realm="git"' always; return 401; }"#
        }
        return """
            client_max_body_size 0;
            location ~ ^/.+\\.git/(info/refs|git-upload-pack)$ {
                \(auth ?? "")
                fastcgi_pass unix:\(socket);
                fastcgi_buffering off;
                fastcgi_read_timeout 120s;
                \(params.map { "fastcgi_param \($0.0) \"\($0.1)\";" }.joined(separator: "\n        "))
            }
            location ^~ /dumb/ { alias \(root)/; }
            """
    }
}
