import CLinuxShims
import Glibc

/// The one way smart-sync (and its tests) start a child process: git, the rebuild command, nix, gh, test servers.
///
/// A runner is a value: the executable, its arguments (an argv; a shell only through ``shell(_:environment:)``), the
/// whole environment (never inherited implicitly: build it with ``ChildEnvironment``, which drops token variables),
/// and a working directory. Then either
/// - ``run(input:output:error:timeout:)`` (async, on a thread of its own) or
///   ``runAndWait(input:output:error:timeout:)`` (blocking): feed stdin bytes, capture stdout and stderr up to a
///   size cap or stream them, stop the child at a timeout, and return how it ended; or
/// - ``start(input:output:error:)``: a ``ChildProcess`` that keeps running (a server, `git cat-file --batch`,
///   a run a test kills), with pipes the caller reads and writes.
///
/// Children start through `posix_spawn` with no descriptor of ours but 0, 1 and 2, an empty signal mask and every
/// signal at its default action, in their own working directory when one is given.
public struct ProcessRunner: Sendable {
    /// The program: an absolute path, or a name looked up in the child's `PATH` (``environment``).
    public var executable: String
    /// The arguments after the program name.
    public var arguments: [String]
    /// The child's whole environment.
    public var environment: [String: String]
    /// The child's working directory; ours when nil.
    public var workingDirectory: String?

    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String],
        workingDirectory: String? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// `/bin/sh -c commandLine`: for a command line the operator wrote (the rebuild command).
    public static func shell(_ commandLine: String, environment: [String: String]) -> ProcessRunner {
        ProcessRunner("/bin/sh", ["-c", commandLine], environment: environment)
    }

    /// Where a child's stdin comes from.
    public enum Input: Sendable {
        /// `/dev/null`: the child reads end-of-file at once.
        case none
        /// These bytes, then end-of-file (``run(input:output:error:timeout:)`` only).
        case bytes([UInt8])
        /// A pipe the caller writes through ``ChildProcess/write(_:)`` (``start(input:output:error:)`` only).
        case pipe
    }

    /// Where a child's stdout or stderr goes.
    public enum Output: Sendable {
        /// `/dev/null`.
        case discard
        /// Into ``ProcessResult``; more than `limit` bytes stops the child and throws `.limitExceeded`.
        case capture(limit: Int)
        /// Each line (without its newline) handed over as it arrives, on the runner's thread.
        case lines(@Sendable (String) -> Void)
        /// A file, created or truncated.
        case file(String)
        /// A new file (`O_EXCL | O_NOFOLLOW`): an existing file or a symlink at the path fails the start. For a
        /// path in a directory others may write.
        case newFile(String)
        /// Our own stderr (a terminal stays a terminal for the child).
        case standardError
        /// Wherever the child's stdout goes (`2>&1`; for ``Output`` of stderr only).
        case sameAsOutput
        /// A pipe the caller reads through ``ChildProcess`` (``start(input:output:error:)`` only).
        case pipe

        /// Captured, up to 64 MiB.
        public static let captured = Output.capture(limit: 64 << 20)
    }

    /// The command line, quoted for display (not for a shell).
    public var commandLine: String {
        ([executable] + arguments).map(Self.quote).joined(separator: " ")
    }

    static func quote(_ s: String) -> String {
        if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:@%+,".contains($0) }) { return s }
        return "'" + s.replacing("'", with: "'\\''") + "'"
    }

    /// The first executable `name` in the colon-separated `searchPath`, or nil.
    public static func find(_ name: String, searchPath: String) -> String? {
        for directory in searchPath.split(separator: ":") {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0, FileKind.isRegularFile(candidate) { return candidate }
        }
        return nil
    }

    /// ``executable`` as an absolute path: looked up in the child's `PATH` when it has no slash.
    func resolvedExecutable() throws -> String {
        if executable.contains("/") { return executable }
        guard let found = Self.find(executable, searchPath: environment["PATH"] ?? "/usr/bin:/bin") else {
            throw SmartSyncError(
                .commandFailed, "could not start `\(commandLine)`: \(executable) is not on PATH",
                cause: SystemCallError("posix_spawn", errno: ENOENT))
        }
        return found
    }

    /// Runs the child to completion on a thread of its own (``DedicatedThread``), as
    /// ``runAndWait(input:output:error:timeout:)``.
    public func run(
        input: Input = .none, output: Output = .captured, error: Output = .captured, timeout: Duration? = nil
    ) async throws -> ProcessResult {
        let runner = self
        return try await DedicatedThread.run(name: "ss-child") {
            try runner.runAndWait(input: input, output: output, error: error, timeout: timeout)
        }
    }
}

/// `stat` of a path, for ``ProcessRunner/find(_:searchPath:)``.
enum FileKind {
    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}
