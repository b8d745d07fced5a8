import CLinuxShims
import Glibc
import Synchronization

/// A child that ``ProcessRunner/start(input:output:error:)`` started: its pid, the pipes it was given, and ways to
/// wait for it, signal it and stop it. Reaped exactly once, whoever asks first; its pipes close with the handle.
public final class ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t
    /// The command, for messages.
    public let commandLine: String
    /// Our read end of the child's stdout, when it was started with `.pipe`.
    public let standardOutput: Int32?
    /// Our read end of the child's stderr, when it was started with `.pipe`.
    public let standardError: Int32?
    private let stdin: Mutex<Int32?>
    /// Polls readable once the child exited (nil on kernels without pidfd_open: then waits poll waitpid).
    private let pidfd: Int32?
    private let ended = Mutex<Termination?>(nil)

    init(pid: pid_t, commandLine: String, stdin: Int32?, stdout: Int32?, stderr: Int32?) {
        self.pid = pid
        self.commandLine = commandLine
        self.stdin = Mutex(stdin)
        standardOutput = stdout
        standardError = stderr
        let fd = ss_pidfd_open(pid)
        pidfd = fd >= 0 ? fd : nil
        if let fd = pidfd { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    deinit {
        for fd in [standardOutput, standardError, pidfd] { if let fd { close(fd) } }
        closeStandardInput()
    }

    /// How the child ended, or nil while it runs. Reaps it when it has ended.
    public var termination: Termination? { reap() }

    /// True until the child has ended.
    public var isRunning: Bool { reap() == nil }

    /// Writes all of `bytes` to the child's stdin pipe (blocking). Throws `.io` when the child closed its end.
    public func write(_ bytes: [UInt8]) throws {
        guard let fd = stdin.withLock({ $0 }) else {
            throw SmartSyncError(.internal, "`\(commandLine)` was started without a stdin pipe")
        }
        try PipeWriter.withoutSIGPIPE {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw SmartSyncError.io("write", path: "stdin of `\(commandLine)`") }
                offset += n
            }
        }
    }

    /// Our write end of the child's stdin pipe, until it is closed.
    var inputDescriptor: Int32? { stdin.withLock { $0 } }

    /// Reads what `fd` (``standardOutput`` or ``standardError``) has, waiting until it has something: at most
    /// `count` bytes, and none at end-of-file.
    public func read(_ fd: Int32, upTo count: Int = 64 * 1024) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SmartSyncError.io("read", path: "output of `\(commandLine)`") }
            return Array(buffer[0..<n])
        }
    }

    /// Reads `fd` (``standardOutput`` or ``standardError``) to end-of-file.
    public func readToEnd(_ fd: Int32) throws -> [UInt8] {
        var all: [UInt8] = []
        while case let chunk = try read(fd), !chunk.isEmpty { all += chunk }
        return all
    }

    /// Closes the child's stdin pipe: it reads end-of-file. Safe to call more than once.
    public func closeStandardInput() {
        if let fd = stdin.withLock({ $0.take() }) { close(fd) }
    }

    /// Sends `signal` to the child, unless it has already been reaped.
    public func signal(_ signal: Int32) {
        ended.withLock { if $0 == nil { _ = kill(pid, signal) } }
    }

    /// Waits until the child ends.
    @discardableResult
    public func wait() -> Termination {
        while true {
            if let done = wait(timeout: .seconds(3600)) { return done }
        }
    }

    /// Waits up to `timeout` for the child to end; nil when it still runs.
    public func wait(timeout: Duration) -> Termination? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let done = reap() { return done }
            let ms = ProcessRunner.milliseconds(until: deadline)
            guard ms > 0 else { return nil }
            if let pidfd {
                var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
                _ = poll(&entry, 1, ms)
            } else {
                usleep(useconds_t(min(ms, 10) * 1000))
            }
        }
    }

    /// Stops the child: SIGTERM, then SIGKILL when it still runs after `grace`; waits for it either way.
    @discardableResult
    public func terminate(grace: Duration = .seconds(5)) -> Termination {
        signal(SIGTERM)
        if let done = wait(timeout: grace) { return done }
        signal(SIGKILL)
        return wait()
    }

    /// Reaps the child if it has ended (never blocks); the one place `waitpid` is called for it.
    private func reap() -> Termination? {
        ended.withLock { ended in
            if let ended { return ended }
            var status: Int32 = 0
            var rc: pid_t
            repeat { rc = waitpid(pid, &status, WNOHANG) } while rc < 0 && errno == EINTR
            if rc == pid { ended = Termination(waitStatus: status) }
            // ECHILD: someone reaped it behind our back (a SIGCHLD handler set to SIG_IGN); it is gone.
            else if rc < 0 { ended = .exited(-1) }
            return ended
        }
    }
}
