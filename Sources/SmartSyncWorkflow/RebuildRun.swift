import SmartSyncCore

/// One run of a command line the operator wrote (the rebuild command) through `/bin/sh -c`
/// (``ProcessRunner/shell(_:environment:)``), with no token variables in its environment, and how it ended.
public struct RebuildRun: Sendable, Equatable {
    /// Where the command's output goes.
    public enum Output: Sendable {
        /// Its stdout and stderr both go to our stderr (a terminal stays a terminal for it).
        case inheritToStderr
        /// Each line of its stdout and stderr (merged) is handed over as it arrives (`--json`, `--quiet`).
        case lines(@Sendable (String) -> Void)
    }

    /// How the command ended.
    public var termination: Termination
    /// The last lines of output, when it was captured (for error messages).
    public var tail: [String]

    /// The exit status, or the signal number when ``signaled``.
    public var status: Int32 { termination.status }
    public var signaled: Bool { termination.signaled }
    public var succeeded: Bool { termination.succeeded }
    /// "exited with status 1", "was killed by signal 9", "was not found by the shell (status 127)".
    public var description: String { termination.description }

    /// Lines of output kept for ``tail``.
    static let tailLines = 20

    /// What the command runs with: smart-sync's environment without the token variables
    /// (``ChildEnvironment/tokenVariables``: the rebuild runs the target's code, which has no business with the
    /// token smart-sync fetched it with), plus `environment`.
    public static func childEnvironment(inherited: [String: String], adding environment: [String: String])
        -> [String: String]
    {
        ChildEnvironment.withoutTokens(inherited).merging(ChildEnvironment.withoutTokens(environment)) { $1 }
    }

    /// Runs `commandLine` to completion, with `environment` added to smart-sync's own (``childEnvironment``), on a
    /// thread of its own. Throws only when it cannot be started.
    public static func run(_ commandLine: String, environment: [String: String] = [:], output: Output)
        async throws -> RebuildRun
    {
        let shell = ProcessRunner.shell(
            commandLine, environment: childEnvironment(inherited: ChildEnvironment.current, adding: environment))
        let tail = Locked<[String]>([])
        let streams: (ProcessRunner.Output, ProcessRunner.Output)
        switch output {
        case .inheritToStderr: streams = (.standardError, .standardError)
        case .lines(let sink):
            let keep: @Sendable (String) -> Void = { line in
                sink(line)
                tail.withLock {
                    $0.append(line)
                    if $0.count > tailLines { $0.removeFirst() }
                }
            }
            streams = (.lines(keep), .sameAsOutput)
        }
        let result: ProcessResult
        do {
            result = try await shell.run(output: streams.0, error: streams.1)
        } catch let error as SmartSyncError {
            throw SmartSyncError(
                .commandFailed, "could not start /bin/sh to run `\(commandLine)`: \(error.message)",
                cause: error.cause)
        }
        return RebuildRun(termination: result.termination, tail: tail.withLock { $0 })
    }
}
