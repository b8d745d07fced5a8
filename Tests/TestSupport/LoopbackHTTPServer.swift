import Foundation

/// A tiny recording HTTP/1.1 server (Python, generated into a temp dir) listening on several 127.0.0.1 ports at
/// once. Each port is a different "host" (`127.0.0.1:PORT`) for per-host logic; all share one record.
///
/// Paths:
/// - `/slow?ms=N`: answers `ok` after N milliseconds (for concurrency caps, cancellation, shutdown).
/// - `/redirect?status=302&to=URL`: answers a redirect to URL (absolute or relative); without `to`, to itself.
/// - anything else: `200` with body `hello PATH`; `/status/N` answers status N with body `status N` (with a
///   `Retry-After` header when the query has `retry-after=VALUE`; `&ms=N` first waits N milliseconds).
///
/// Every request is recorded (port, path, `Authorization` header or null, arrival time, the port's requests in
/// progress counting it), and the peak number of requests in progress at once, overall and per port, is tracked.
/// ``snapshot()`` reads it back.
// Immutable after init except the process, kept in a `BackgroundProcess`.
public final class LoopbackHTTPServer: @unchecked Sendable {
    /// One recorded request.
    public struct Request: Decodable, Sendable {
        public var port: Int
        public var path: String
        public var authorization: String?
        /// When it arrived, in seconds since 1970 (compare with `Date().timeIntervalSince1970`).
        public var time: Double
        /// Requests to its port in progress when it arrived, itself included.
        public var inFlight: Int
    }

    /// What the server saw so far.
    public struct Snapshot: Decodable, Sendable {
        public var requests: [Request]
        public var maxInFlight: Int
        /// Peak in-flight per port (keys are port numbers as strings).
        public var maxInFlightPerPort: [String: Int]
        public var inFlight: Int

        public func maxInFlight(port: Int) -> Int { maxInFlightPerPort[String(port)] ?? 0 }
        public func requests(port: Int) -> [Request] { requests.filter { $0.port == port } }
    }

    public var directory: String { scratch.path }
    private let scratch: TemporaryDirectory
    public let ports: [Int]
    private let running = BackgroundProcess()

    /// `http://127.0.0.1:PORT` of the `index`th port.
    public func baseURL(_ index: Int = 0) -> String { "http://127.0.0.1:\(ports[index])" }

    /// A port on 127.0.0.1 with nothing listening (for connection-refused tests).
    public static func unusedPort() throws -> Int { try LoopbackSupport.unusedPort() }

    /// Starts the server on `portCount` ports and waits until they accept connections.
    public init(portCount: Int = 1) throws {
        scratch = try TemporaryDirectory(prefix: "smart-sync-http")
        let directory = scratch.path
        let script = directory + "/server.py"
        try LoopbackHTTPServer.script.write(toFile: script, atomically: true, encoding: .utf8)
        let process = try ProcessRunner(
            "python3", [script, directory, String(portCount)], environment: ChildEnvironment.current
        ).start(error: .file(directory + "/server.log"))
        running.adopt(process)
        let deadline = Date().addingTimeInterval(30)
        var ports: [Int]?
        while Date() < deadline, process.isRunning {
            if let data = FileManager.default.contents(atPath: directory + "/ports.json"),
                let decoded = try? JSONDecoder().decode([Int].self, from: data)
            {
                ports = decoded
                break
            }
            usleep(20_000)
        }
        guard let ports, ports.allSatisfy(LoopbackSupport.accepts(port:)) else {
            process.terminate()
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            throw LoopbackServerError("the loopback HTTP server did not start: \(log)")
        }
        self.ports = ports
    }

    deinit { stop() }

    /// Stops the server and removes its scratch directory. Idempotent.
    public func stop() {
        guard running.stop() else { return }
        scratch.remove()
    }

    /// The record so far.
    public func snapshot() throws -> Snapshot {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/state.json"))
        return try JSONDecoder().decode(Snapshot.self, from: data)
    }

    static let script = #"""
        import json, os, signal, sys, threading, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlparse, parse_qs

        # A parent may pass on a blocked signal mask (Foundation's Process did); unblock so SIGTERM stops us.
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        directory, count = sys.argv[1], int(sys.argv[2])
        lock = threading.Lock()
        state = {"requests": [], "maxInFlight": 0, "maxInFlightPerPort": {}, "inFlight": 0}
        per_port = {}

        def save():
            tmp = os.path.join(directory, "state.json.tmp")
            with open(tmp, "w") as f:
                json.dump(state, f)
            os.replace(tmp, os.path.join(directory, "state.json"))

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def respond(self, status, body, headers=()):
                data = body.encode()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def do_HEAD(self):
                self.do_GET()

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                self.do_GET()

            def do_GET(self):
                port = self.server.server_address[1]
                url = urlparse(self.path)
                query = parse_qs(url.query)
                with lock:
                    state["inFlight"] += 1
                    per_port[port] = per_port.get(port, 0) + 1
                    state["requests"].append(
                        {"port": port, "path": self.path, "authorization": self.headers.get("Authorization"),
                         "time": time.time(), "inFlight": per_port[port]})
                    state["maxInFlight"] = max(state["maxInFlight"], state["inFlight"])
                    key = str(port)
                    state["maxInFlightPerPort"][key] = max(state["maxInFlightPerPort"].get(key, 0), per_port[port])
                    save()
                if url.path == "/slow" or "ms" in query:
                    time.sleep(int(query.get("ms", ["500"])[0]) / 1000.0)
                # Leave the in-flight count before answering: the client's transfer is still running until it
                # has read the answer, so the count never exceeds the client's own in-flight transfers.
                with lock:
                    state["inFlight"] -= 1
                    per_port[port] -= 1
                    save()
                try:
                    if url.path == "/slow":
                        self.respond(200, "ok")
                    elif url.path == "/redirect":
                        status = int(query.get("status", ["302"])[0])
                        self.respond(status, "moved", [("Location", query.get("to", [self.path])[0])])
                    elif url.path.startswith("/status/"):
                        status = int(url.path.split("/")[2])
                        headers = [("Retry-After", v) for v in query.get("retry-after", [])]
                        self.respond(status, "status %d" % status, headers)
                    else:
                        self.respond(200, "hello " + url.path)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        ThreadingHTTPServer.daemon_threads = True
        ThreadingHTTPServer.request_queue_size = 128
        servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(count)]
        with lock:
            save()
        for server in servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        tmp = os.path.join(directory, "ports.json.tmp")
        with open(tmp, "w") as f:
            json.dump([s.server_address[1] for s in servers], f)
        os.replace(tmp, os.path.join(directory, "ports.json"))
        threading.Event().wait()
        """#
}
