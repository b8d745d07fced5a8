import Foundation

/// One request as recorded by the test server's log (see `Server/README.md`).
public struct LoggedRequest: Sendable, Equatable, Decodable {
    /// `"api"`, `"raw"` or `"git"`.
    public var listener: String
    public var method: String
    /// Path with query string, as sent.
    public var path: String
    /// Request headers, names lower-cased. `authorization` is `"<redacted:present>"` when sent, absent otherwise.
    public var headers: [String: String]
    /// Status code sent.
    public var status: Int
    /// Body bytes actually written (fewer than announced when a fault cut the body short).
    public var bytes: Int
    /// The `Range` header, when sent.
    public var range: String?
    /// Unix time the response finished.
    public var t: Double

    /// True when the request carried an `Authorization` header.
    public var hadAuthorization: Bool { headers["authorization"] != nil }
}

/// The GitHub-shaped test server (`Server/fake_github.py`) running as a child process for the life of this object.
///
/// ```swift
/// let repo = try GitFixture()
/// try repo.write("README", "hi"); let sha = try repo.commit("one")
/// let server = try FakeGitHub(repos: ["octo/demo": repo.path])
/// // smart-sync --api-url \(server.apiURL) --raw-url \(server.rawURL) ...
/// try server.setFaults(#"[{"match": {"listener": "raw"}, "times": 1, "action": {"status": 500}}]"#)
/// let hits = try server.requests().filter { $0.listener == "raw" }
/// ```
///
/// `@unchecked Sendable`: the only mutable state is the `ChildProcess`, kept in a `BackgroundProcess`.
public final class FakeGitHub: @unchecked Sendable {
    /// API base URL, e.g. `http://127.0.0.1:41347` (what `--api-url` takes).
    public let apiURL: String
    /// Raw host base URL (what `--raw-url` takes).
    public let rawURL: String
    /// Git smart-HTTP base URL serving `{owner}/{repo}.git` (what `--git-url` takes).
    public let gitURL: String
    /// The request log file (JSON lines).
    public let logPath: String
    /// The faults file the server watches.
    public let faultsPath: String
    /// The token the server accepts, if one was configured.
    public let token: String?

    private let directory: TemporaryDirectory
    private let running = BackgroundProcess()
    private let stderrPath: String

    /// The server script inside the TestSupport resource bundle.
    public static var scriptPath: String {
        get throws {
            guard let dir = Bundle.module.path(forResource: "Server", ofType: nil) else {
                throw TestSupportError(description: "TestSupport resource bundle has no Server directory")
            }
            return dir + "/fake_github.py"
        }
    }

    /// Starts the server and waits until it listens.
    ///
    /// - Parameters:
    ///   - repos: `"OWNER/NAME"` → path of a git repository (bare or not).
    ///   - truncateTreeOver: recursive tree listings longer than this are cut and marked `truncated`.
    ///   - privateRepos: repositories that answer 404 without a valid token (API and raw; git: 401).
    ///   - token: the only valid token; when nil, any presented token is accepted.
    ///   - rateLimit: overrides GitHub's core limits (60 anonymous / 5000 authenticated).
    ///   - extraArguments: passed to the script verbatim.
    public init(
        repos: [String: String],
        truncateTreeOver: Int? = nil,
        privateRepos: [String] = [],
        token: String? = nil,
        rateLimit: Int? = nil,
        extraArguments: [String] = []
    ) throws {
        directory = try TemporaryDirectory(prefix: "fake-github")
        logPath = directory.appending("requests.jsonl")
        faultsPath = directory.appending("faults.json")
        stderrPath = directory.appending("server.stderr")
        self.token = token
        try Data("[]\n".utf8).write(to: URL(fileURLWithPath: faultsPath))
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)

        var args = [try Self.scriptPath, "--log", logPath, "--faults", faultsPath]
        for (name, path) in repos.sorted(by: { $0.key < $1.key }) { args += ["--repo", "\(name)=\(path)"] }
        if let truncateTreeOver { args += ["--truncate-tree-over", String(truncateTreeOver)] }
        for name in privateRepos { args += ["--private", name] }
        if let token { args += ["--token", token] }
        if let rateLimit { args += ["--rate-limit", String(rateLimit)] }
        args += extraArguments

        let process = try ProcessRunner("python3", args, environment: ChildEnvironment.current)
            .start(output: .pipe, error: .file(stderrPath))

        // The ready line: {"api": "...", "raw": "...", "git": "..."}. EOF first means the server died: report its
        // stderr.
        var line = [UInt8]()
        while true {
            let chunk = try process.read(process.standardOutput!, upTo: 1)
            if chunk.isEmpty || chunk.first == UInt8(ascii: "\n") { break }
            line.append(chunk.first!)
        }
        struct Ready: Decodable { var api: String, raw: String, git: String }
        guard let ready = try? JSONDecoder().decode(Ready.self, from: Data(line)) else {
            process.terminate()
            let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            throw TestSupportError(
                description: "fake_github.py did not start: \(String(decoding: line, as: UTF8.self))\n\(err)")
        }
        apiURL = ready.api
        rawURL = ready.raw
        gitURL = ready.git
        running.adopt(process)
    }

    deinit { stop() }

    /// Stops the server (SIGTERM, then wait). Safe to call more than once.
    public func stop() {
        running.stop()
    }

    /// What the server wrote to stderr so far (tracebacks from server bugs land here).
    public func serverErrors() -> String {
        (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
    }

    /// All requests logged since start (or the last ``clearLog()``), in completion order.
    public func requests() throws -> [LoggedRequest] {
        let data = try Data(contentsOf: URL(fileURLWithPath: logPath))
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).map {
            try decoder.decode(LoggedRequest.self, from: Data($0))
        }
    }

    /// Empties the request log.
    public func clearLog() throws {
        try Data().write(to: URL(fileURLWithPath: logPath))
    }

    /// Replaces the fault rules (JSON text: a list of rules, or `{"latency_ms": N, "rules": [...]}`).
    ///
    /// Written to a temp file and renamed over the old one, with a distinct mtime, so the server always sees it.
    public func setFaults(_ json: String) throws {
        let tmp = faultsPath + ".tmp-\(UUID().uuidString)"
        try Data(json.utf8).write(to: URL(fileURLWithPath: tmp))
        if let previous = try? FileManager.default.attributesOfItem(atPath: faultsPath)[.modificationDate] as? Date {
            // Bump mtime one second past the old one: coarse-mtime filesystems still see a change.
            let newTime = max(Date().timeIntervalSince1970, previous.timeIntervalSince1970.rounded(.down) + 1)
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: newTime)], ofItemAtPath: tmp)
        }
        guard rename(tmp, faultsPath) == 0 else {
            throw TestSupportError(description: "rename \(tmp) -> \(faultsPath) failed: errno \(errno)")
        }
    }

    /// Removes all fault rules.
    public func clearFaults() throws { try setFaults("[]") }

    /// `"\(rawURL)/\(repo)/\(ref)/\(path)"`.
    public func rawURL(_ repo: String, _ ref: String, _ path: String) -> String { "\(rawURL)/\(repo)/\(ref)/\(path)" }

    /// `"\(gitURL)/\(repo).git"`: the clone URL of a served repository.
    public func gitURL(_ repo: String) -> String { "\(gitURL)/\(repo).git" }

    /// `"\(apiURL)/repos/\(repo)\(suffix)"`, e.g. `api("o/r", "/git/trees/main?recursive=1")`.
    public func api(_ repo: String, _ suffix: String = "") -> String { "\(apiURL)/repos/\(repo)\(suffix)" }
}
