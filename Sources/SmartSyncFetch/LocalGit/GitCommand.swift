import Foundation
import SmartSyncCore

/// Runs the `git` executable for the local-repository source (and the shallow-clone fallback), in a clean
/// environment (``cleanEnvironment(_:)``) that the caller's git configuration cannot reach.
struct GitCommand: Sendable {
    /// The repository (work tree or bare).
    let repository: String
    /// Variables set (a value) or removed (nil) on top of the clean environment, e.g. a scoped credential for
    /// the shallow clone passed through `GIT_CONFIG_COUNT` so it never appears on a command line.
    var environmentChanges: [String: String?] = [:]

    /// Arguments common to every call: trust this repository even when another user owns it (read-only use).
    private var base: [String] { ["-C", repository, "-c", "safe.directory=" + repository, "-c", "core.quotepath=off"] }

    /// Runs git to completion and returns stdout; stderr is quoted in the error.
    func run(_ args: [String]) async throws -> (status: Int32, stdout: [UInt8], stderr: String) {
        try await Self.onThread {
            let p = try makeProcess(args)
            let out = Pipe()
            let err = Pipe()
            p.standardOutput = out
            p.standardError = err
            p.standardInput = FileHandle.nullDevice
            try p.run()
            // Drain stderr on a second thread so neither pipe can fill and block git.
            let errData = Locked(Data())
            let errDone = DispatchSemaphore(value: 0)
            Thread {
                let data = err.fileHandleForReading.readDataToEndOfFile()
                errData.withLock { $0 = data }
                errDone.signal()
            }.start()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            errDone.wait()
            let stderr = errData.withLock { String(decoding: $0, as: UTF8.self) }
            return (p.terminationStatus, [UInt8](data), stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Starts a long-running git process with pipes on stdin and stdout.
    func spawn(_ args: [String]) throws -> (process: Process, stdin: FileHandle, stdout: FileHandle) {
        let p = try makeProcess(args)
        let input = Pipe()
        let output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, input.fileHandleForWriting, output.fileHandleForReading)
    }

    private func makeProcess(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = try Self.gitExecutable()
        p.arguments = base + args
        var env = Self.environment
        for (key, value) in environmentChanges { env[key] = value }
        p.environment = env
        return p
    }

    /// A clean environment: no pager, no prompts, no user hooks into output formats.
    private static var environment: [String: String] { cleanEnvironment(ProcessInfo.processInfo.environment) }

    /// `inherited` without anything that could steer git elsewhere, plus what every call needs:
    ///
    /// - every `GIT_*` variable is dropped: they can name another repository, object directory, config (or config
    ///   entries, through `GIT_CONFIG_COUNT`), program (`GIT_SSH_COMMAND`, `GIT_ASKPASS`), or turn off TLS checks
    ///   (`GIT_SSL_NO_VERIFY`);
    /// - the system and global config are not read (`GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL=/dev/null`), so an
    ///   `url.<x>.insteadOf`, `http.extraHeader` or `include.path` in `/etc/gitconfig`, `~/.gitconfig` or
    ///   `$XDG_CONFIG_HOME/git/config` has no effect; the repository's own config still applies;
    /// - replace refs are ignored (`GIT_NO_REPLACE_OBJECTS=1`): a commit's id always means its own content;
    /// - token variables (``GitHubToken/environmentVariables``) are dropped: git needs none of them;
    /// - no prompts, no pager, the C locale (git's messages are matched in English).
    static func cleanEnvironment(_ inherited: [String: String]) -> [String: String] {
        var env = GitHubToken.withoutTokens(inherited).filter { !$0.key.hasPrefix("GIT_") }
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["GIT_CONFIG_GLOBAL"] = "/dev/null"
        env["GIT_NO_REPLACE_OBJECTS"] = "1"
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["GIT_PAGER"] = "cat"
        env["LC_ALL"] = "C"
        return env
    }

    static func gitExecutable() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = String(dir) + "/git"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        throw SmartSyncError(
            .sourceUnavailable,
            "the local-repository source (--source) needs the git executable, and none is on PATH", hint: "install git")
    }

    /// Runs blocking work on its own thread, off Swift's cooperative pool.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}
