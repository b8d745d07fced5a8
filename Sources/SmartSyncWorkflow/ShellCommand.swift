import Foundation
import SmartSyncCore
import SmartSyncFetch

/// Runs one command line through `/bin/sh -c`, on its own thread, streaming or capturing its output, with no token
/// variables in its environment.
public struct ShellCommand: Sendable {
    /// Where the command's output goes.
    public enum Output: Sendable {
        /// Its stdout and stderr both go to our stderr (a terminal stays a terminal for it).
        case inheritToStderr
        /// Each line of its stdout and stderr (merged) is handed over as it arrives (`--json`, `--quiet`).
        case lines(@Sendable (String) -> Void)
    }

    /// How the command ended.
    public struct Result: Sendable, Equatable {
        /// The exit status, or the signal number when ``signaled``.
        public var status: Int32
        public var signaled: Bool
        /// The last lines of output, when it was captured (for error messages).
        public var tail: [String]

        public var succeeded: Bool { !signaled && status == 0 }

        /// "exited with status 1", "was killed by signal 9", "was not found (status 127)".
        public var description: String {
            if signaled { return "was killed by signal \(status)" }
            if status == 127 { return "was not found by the shell (status 127)" }
            return "exited with status \(status)"
        }
    }

    public var commandLine: String
    /// Variables added to the environment of smart-sync.
    public var environment: [String: String]

    /// What the command runs with: smart-sync's environment without the token variables
    /// (``GitHubToken/environmentVariables``: the rebuild runs the target's code, which has no business with the
    /// token smart-sync fetched it with), plus ``environment``.
    public static func childEnvironment(inherited: [String: String], adding environment: [String: String])
        -> [String: String]
    {
        GitHubToken.withoutTokens(inherited).merging(GitHubToken.withoutTokens(environment)) { $1 }
    }

    public init(_ commandLine: String, environment: [String: String] = [:]) {
        self.commandLine = commandLine
        self.environment = environment
    }

    /// Lines of output kept for ``Result/tail``.
    static let tailLines = 20

    /// Runs the command to completion. Throws only when it cannot be started.
    public func run(output: Output) async throws -> Result {
        let commandLine = commandLine
        let environment = environment
        return try await Self.onThread {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", commandLine]
            process.environment = Self.childEnvironment(
                inherited: ProcessInfo.processInfo.environment, adding: environment)
            process.standardInput = FileHandle.nullDevice
            var pipe: Pipe?
            switch output {
            case .inheritToStderr:
                process.standardOutput = FileHandle.standardError
                process.standardError = FileHandle.standardError
            case .lines:
                let p = Pipe()
                process.standardOutput = p
                process.standardError = p
                pipe = p
            }
            do {
                try process.run()
            } catch {
                throw SmartSyncError(
                    .commandFailed, "could not start /bin/sh to run `\(commandLine)`: \(error)",
                    cause: SystemCallError("posix_spawn", errno: errno))
            }
            var tail: [String] = []
            if let pipe, case .lines(let sink) = output {
                // Our copy of the write end must go, or the read below never sees end-of-file.
                try? pipe.fileHandleForWriting.close()
                var pending = Data()
                let reader = pipe.fileHandleForReading
                func emit(_ bytes: Data) {
                    let line = String(decoding: bytes, as: UTF8.self)
                    sink(line)
                    tail.append(line)
                    if tail.count > Self.tailLines { tail.removeFirst() }
                }
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        emit(pending[pending.startIndex..<newline])
                        pending = Data(pending[pending.index(after: newline)...])
                    }
                }
                if !pending.isEmpty { emit(pending) }
            }
            process.waitUntilExit()
            return Result(
                status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal, tail: tail)
        }
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
