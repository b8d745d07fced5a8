import Foundation
import Glibc

/// A failure starting or driving a loopback test server.
public struct LoopbackServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A throwaway nginx serving a directory over HTTPS (HTTP/2 via ALPN) on 127.0.0.1, with a fresh self-signed
/// certificate for `127.0.0.1` and `localhost`. Started by a test, stopped by ``stop()`` or deinit.
///
/// The access log records `$request $status $body_bytes_sent $connection $connection_requests $server_protocol`,
/// one line per request, so tests can check which requests shared a connection.
// Immutable after init except `process`, kept in a `BackgroundProcess`.
public final class NginxServer: @unchecked Sendable {
    /// Where Debian's nginx-light puts the binary (CI installs it).
    public static let executable = "/usr/sbin/nginx"
    /// Whether nginx is installed.
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    /// The server's scratch directory (config, cert, logs).
    public var directory: String { scratch.path }
    private let scratch: TemporaryDirectory
    /// The document root: put files here.
    public let root: String
    public let port: Int
    /// Whether the server speaks TLS (the default) or plain HTTP/1.1.
    public let tls: Bool
    /// `https://127.0.0.1:PORT` (`http://` without TLS).
    public var baseURL: String { (tls ? "https" : "http") + "://127.0.0.1:\(port)" }
    /// The self-signed certificate (PEM), usable as a CA file (not created without TLS).
    public let certificatePath: String

    private let running = BackgroundProcess()

    /// The default access log format (see the type's documentation).
    public static let defaultLogFormat =
        "$request $status $body_bytes_sent $connection $connection_requests $server_protocol"

    /// Starts nginx. `root` defaults to an empty directory inside the scratch directory; `serverConfig` is
    /// added inside the `server { }` block (e.g. `location = /r { return 302 http://...; }`), `httpConfig` inside
    /// the `http { }` block (e.g. a `map`). `tls: false` serves plain HTTP/1.1; `logFormat` replaces the access log's.
    public init(
        root: String? = nil, serverConfig: String = "", httpConfig: String = "", tls: Bool = true,
        logFormat: String = NginxServer.defaultLogFormat
    ) throws {
        guard NginxServer.isAvailable else {
            throw LoopbackServerError("nginx is not installed at \(NginxServer.executable); install nginx-light")
        }
        scratch = try TemporaryDirectory(prefix: "smart-sync-nginx")
        let directory = scratch.path
        self.root = root ?? directory + "/root"
        try FileManager.default.createDirectory(atPath: self.root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
        certificatePath = directory + "/cert.pem"
        self.tls = tls
        if tls {
            try ProcessRunner.run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", directory + "/key.pem", "-out", certificatePath, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                ])
        }
        let settings = Settings(
            directory: directory, root: self.root, tls: tls, certificatePath: certificatePath,
            serverConfig: serverConfig, httpConfig: httpConfig, logFormat: logFormat)
        var lastError: Error?
        for _ in 0..<5 {
            let port = try LoopbackSupport.unusedPort()
            do {
                let process = try NginxServer.start(port: port, settings)
                self.port = port
                running.adopt(process)
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? LoopbackServerError("nginx did not start")
    }

    deinit { stop() }

    /// Stops nginx, waits for it to exit and removes the scratch directory. Idempotent.
    public func stop() {
        guard running.stop() else { return }
        scratch.remove()
    }

    /// The access log, one entry per request.
    public func accessLogLines() -> [String] {
        guard let text = try? String(contentsOfFile: directory + "/access.log", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// The error log, for diagnostics.
    public func errorLog() -> String { NginxServer.errorLog(directory: directory) }

    private static func errorLog(directory: String) -> String {
        (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? ""
    }

    private struct Settings {
        var directory, root: String
        var tls: Bool
        var certificatePath, serverConfig, httpConfig, logFormat: String
    }

    private static func start(port: Int, _ settings: Settings) throws -> ChildProcess {
        let directory = settings.directory
        let listen =
            settings.tls
            ? """
            listen 127.0.0.1:\(port) ssl http2;
                    ssl_certificate \(settings.certificatePath);
                    ssl_certificate_key \(directory)/key.pem;
            """ : "listen 127.0.0.1:\(port);"
        let user = geteuid() == 0 ? "user root root;" : ""
        let tmp = directory + "/tmp"
        let config = """
            \(user)
            worker_processes 1;
            error_log \(directory)/error.log info;
            pid \(directory)/nginx.pid;
            events { worker_connections 512; }
            http {
                log_format smartsync '\(settings.logFormat)';
                access_log \(directory)/access.log smartsync;
                client_body_temp_path \(tmp)/body;
                proxy_temp_path \(tmp)/proxy;
                fastcgi_temp_path \(tmp)/fastcgi;
                uwsgi_temp_path \(tmp)/uwsgi;
                scgi_temp_path \(tmp)/scgi;
                default_type application/octet-stream;
                keepalive_requests 10000;
                \(settings.httpConfig)
                server {
                    \(listen)
                    server_name localhost;
                    root \(settings.root);
                    location / { }
                    \(settings.serverConfig)
                }
            }
            """
        try config.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        let process = try ProcessRunner(
            NginxServer.executable, ["-p", directory, "-c", directory + "/nginx.conf", "-g", "daemon off;"],
            environment: ChildEnvironment.current
        ).start()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if !process.isRunning {
                throw LoopbackServerError("nginx exited on port \(port): \(errorLog(directory: directory))")
            }
            if LoopbackSupport.accepts(port: port) { return process }
            usleep(20_000)
        }
        process.terminate()
        throw LoopbackServerError(
            "nginx did not accept connections on port \(port) within 30 s: \(errorLog(directory: directory))")
    }
}

/// Small socket and process helpers shared by the loopback servers (internal to TestSupport).
enum LoopbackSupport {
    private static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        return address
    }

    /// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
    static func unusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackServerError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw LoopbackServerError("bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw LoopbackServerError("getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return rc == 0
    }
}
