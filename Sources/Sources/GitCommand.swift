import Foundation
import SmartSyncCore

/// Runs the `git` executable for the local-repository source (and the shallow-clone fallback).
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
    private static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["GIT_PAGER"] = "cat"
        env["LC_ALL"] = "C"
        env.removeValue(forKey: "GIT_DIR")
        env.removeValue(forKey: "GIT_WORK_TREE")
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
            "the local-repository source (--source) needs the git executable, and none is on PATH; install git")
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
