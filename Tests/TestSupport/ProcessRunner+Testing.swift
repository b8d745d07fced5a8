// Re-exported: the test helpers take and return its types (ProcessResult, ChildProcess), so every test target sees
// them.
@_exported import SmartSyncCore

extension ProcessRunner {
    /// The most a test keeps of a child's stdout or stderr.
    static let testOutputLimit = 1 << 30

    /// Runs `executable` (an absolute path, or a name looked up in `PATH`) with `arguments` to completion (tests
    /// only: git, tar, mount, the smart-sync binary), blocking.
    ///
    /// - Parameters:
    ///   - environment: variables added to (or replacing those of) the test process's environment, tokens
    ///     included; a nil value removes one.
    ///   - currentDirectory: working directory, default the current one.
    ///   - input: bytes written to stdin (stdin is empty otherwise).
    ///   - check: when true (the default) a non-zero exit throws a ``TestSupportError`` quoting stderr.
    @discardableResult
    public static func run(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String?] = [:],
        currentDirectory: String? = nil,
        input: [UInt8]? = nil,
        check: Bool = true
    ) throws -> ProcessResult {
        let runner = ProcessRunner(
            executable, arguments, environment: ChildEnvironment.applying(environment, to: ChildEnvironment.current),
            workingDirectory: currentDirectory)
        let result: ProcessResult
        do {
            result = try runner.runAndWait(
                input: input.map { .bytes($0) } ?? .none, output: .capture(limit: testOutputLimit),
                error: .capture(limit: testOutputLimit))
        } catch {
            throw TestSupportError(description: "could not launch \(runner.commandLine): \(error)")
        }
        if check && !result.succeeded {
            var message = "\(runner.commandLine) "
            message += result.signaled ? "died of signal \(result.status)" : "exited with status \(result.status)"
            if !result.errorOutput.isEmpty { message += "\nstderr: \(result.errorOutput)" }
            if let currentDirectory { message += "\ncwd: \(currentDirectory)" }
            throw TestSupportError(description: message)
        }
        return result
    }
}
