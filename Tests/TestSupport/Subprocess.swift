import Foundation

/// A failed or unlaunchable subprocess, with everything needed to see why.
public struct SubprocessError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The outcome of ``Subprocess/run(_:_:environment:currentDirectory:input:check:)``.
public struct SubprocessResult: Sendable {
    /// The command line, for messages.
    public var commandLine: String
    /// Exit status (or the signal number when ``signaled`` is true).
    public var status: Int32
    /// True when the process died of a signal.
    public var signaled: Bool
    /// Everything written to stdout.
    public var stdout: [UInt8]
    /// Everything written to stderr.
    public var stderr: [UInt8]

    /// stdout decoded as UTF-8.
    public var stdoutString: String { String(decoding: stdout, as: UTF8.self) }
    /// stderr decoded as UTF-8.
    public var stderrString: String { String(decoding: stderr, as: UTF8.self) }
    /// stdout with surrounding whitespace and newlines trimmed.
    public var output: String { stdoutString.trimmingCharacters(in: .whitespacesAndNewlines) }
    /// True when the process exited with status 0.
    public var succeeded: Bool { !signaled && status == 0 }
}

/// Runs external commands synchronously (tests only: git, curl, tar, the smart-sync binary).
public enum Subprocess {
    /// Runs `executable` (an absolute path, or a name looked up in `PATH`) with `arguments`.
    ///
    /// - Parameters:
    ///   - environment: variables added to (or replacing those of) the current environment; a nil value removes one.
    ///   - currentDirectory: working directory, default the current one.
    ///   - input: bytes written to stdin (stdin is empty otherwise).
    ///   - check: when true (the default) a non-zero exit throws a ``SubprocessError`` quoting stderr.
    @discardableResult
    public static func run(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String?] = [:],
        currentDirectory: String? = nil,
        input: [UInt8]? = nil,
        check: Bool = true
    ) throws -> SubprocessResult {
        let commandLine = ([executable] + arguments).map(quote).joined(separator: " ")
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }

        // Output goes to unlinked temp files: no pipe-buffer deadlocks, no reader threads.
        let out = try scratchFile()
        let err = try scratchFile()
        defer {
            try? out.close()
            try? err.close()
        }
        process.standardOutput = out
        process.standardError = err
        let stdinPipe = Pipe()
        process.standardInput = stdinPipe
        do {
            try process.run()
        } catch {
            throw SubprocessError(description: "could not launch \(commandLine): \(error)")
        }
        if let input, !input.isEmpty {
            stdinPipe.fileHandleForWriting.write(Data(input))
        }
        try? stdinPipe.fileHandleForWriting.close()
        process.waitUntilExit()

        let result = SubprocessResult(
            commandLine: commandLine,
            status: process.terminationStatus,
            signaled: process.terminationReason == .uncaughtSignal,
            stdout: try readAll(out),
            stderr: try readAll(err)
        )
        if check && !result.succeeded {
            var message = "\(commandLine) "
            message += result.signaled ? "died of signal \(result.status)" : "exited with status \(result.status)"
            let stderrText = result.stderrString.trimmingCharacters(in: .whitespacesAndNewlines)
            if !stderrText.isEmpty { message += "\nstderr: \(stderrText)" }
            if let cwd = currentDirectory { message += "\ncwd: \(cwd)" }
            throw SubprocessError(description: message)
        }
        return result
    }

    /// Quotes an argument for display (not for a shell).
    static func quote(_ s: String) -> String {
        if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:@%+,".contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    private static func scratchFile() throws -> FileHandle {
        let root = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(root)/subprocess-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SubprocessError(description: "mkstemp in \(root) failed: errno \(errno)") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    private static func readAll(_ handle: FileHandle) throws -> [UInt8] {
        try handle.seek(toOffset: 0)
        return [UInt8](try handle.readToEnd() ?? Data())
    }
}
