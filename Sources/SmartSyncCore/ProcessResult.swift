/// How a child process ended.
public enum Termination: Sendable, Equatable, CustomStringConvertible {
    /// It exited with this status.
    case exited(Int32)
    /// A signal killed it.
    case signaled(Int32)

    /// Decodes a `waitpid` status.
    init(waitStatus: Int32) {
        let signal = waitStatus & 0x7f
        self = signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signaled(signal)
    }

    /// The exit status, or the signal number when ``signaled``.
    public var status: Int32 {
        switch self {
        case .exited(let status), .signaled(let status): status
        }
    }

    /// True when a signal ended it.
    public var signaled: Bool {
        if case .signaled = self { return true }
        return false
    }

    /// True when it exited with status 0.
    public var succeeded: Bool { self == .exited(0) }

    /// "exited with status 1", "was killed by signal 9", "was not found by the shell (status 127)".
    public var description: String {
        switch self {
        case .signaled(let signal): "was killed by signal \(signal)"
        case .exited(127): "was not found by the shell (status 127)"
        case .exited(let status): "exited with status \(status)"
        }
    }
}

/// What ``ProcessRunner/run(input:output:error:timeout:)`` returns: how the child ended and what it wrote to the
/// streams that were captured (empty for the others).
public struct ProcessResult: Sendable {
    /// The command, for messages (``ProcessRunner/commandLine``).
    public var commandLine: String
    public var termination: Termination
    /// Everything the child wrote to stdout, when it was captured.
    public var stdout: [UInt8]
    /// Everything the child wrote to stderr, when it was captured.
    public var stderr: [UInt8]

    public init(commandLine: String, termination: Termination, stdout: [UInt8] = [], stderr: [UInt8] = []) {
        self.commandLine = commandLine
        self.termination = termination
        self.stdout = stdout
        self.stderr = stderr
    }

    /// The exit status, or the signal number when ``signaled``.
    public var status: Int32 { termination.status }
    /// True when a signal ended the child.
    public var signaled: Bool { termination.signaled }
    /// True when the child exited with status 0.
    public var succeeded: Bool { termination.succeeded }

    /// stdout decoded as UTF-8.
    public var stdoutString: String { String(decoding: stdout, as: UTF8.self) }
    /// stderr decoded as UTF-8.
    public var stderrString: String { String(decoding: stderr, as: UTF8.self) }
    /// stdout without leading and trailing whitespace and newlines.
    public var output: String { Self.trimmed(stdoutString) }
    /// stderr without leading and trailing whitespace and newlines, to match words in; a message quotes
    /// ``errorExcerpt``.
    public var errorOutput: String { Self.trimmed(stderrString) }
    /// stderr for a message or a log line: its last 3 lines joined by ` / `, escaped and cut
    /// (`EscapedText.excerpt`). A child's stderr carries others' text: git's has a server's (`remote:` lines, an `ERR`
    /// packet's text; git's own `die` turns C0 controls into `?` but lets C1 controls and bidirectional overrides
    /// through) and the names of a local repository's files.
    public var errorExcerpt: String {
        EscapedText.excerpt(errorOutput.split(separator: "\n").suffix(3).joined(separator: " / "))
    }

    static func trimmed(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace || $0.isNewline }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(text[first...last])
    }
}
