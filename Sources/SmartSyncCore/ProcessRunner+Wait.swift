import Glibc

extension ProcessRunner {
    /// Runs the child to completion on this thread: writes `input` to its stdin, collects or streams its stdout and
    /// stderr (one `poll` loop, so no pipe can fill and stall it), and returns how it ended. Blocks: from async
    /// code use ``run(input:output:error:timeout:)``.
    ///
    /// Throws `.commandFailed` when the child cannot be started or outlives `timeout` (it is killed with SIGKILL
    /// then), and `.limitExceeded` when it writes more than a `.capture` limit (it is killed too). A non-zero exit is
    /// no error: look at ``ProcessResult/termination``.
    public func runAndWait(
        input: Input = .none, output: Output = .captured, error: Output = .captured, timeout: Duration? = nil
    ) throws -> ProcessResult {
        let child = try start(input: input, output: output, error: error)
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var sinks = [OutputSink(output), OutputSink(error)]
        var open: [(fd: Int32, sink: Int)] = []
        if let fd = child.standardOutput { open.append((fd, 0)) }
        if let fd = child.standardError { open.append((fd, 1)) }
        var pending: ArraySlice<UInt8> = []
        if case .bytes(let bytes) = input { pending = bytes[...] }
        if pending.isEmpty { child.closeStandardInput() }
        let stdinFD = child.inputDescriptor
        if let stdinFD { _ = fcntl(stdinFD, F_SETFL, fcntl(stdinFD, F_GETFL) | O_NONBLOCK) }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)

        func stop(_ failure: SmartSyncError) -> SmartSyncError {
            child.signal(SIGKILL)
            child.wait()
            return failure
        }
        try PipeWriter.withoutSIGPIPE {
            while !open.isEmpty || (!pending.isEmpty && child.inputDescriptor != nil) {
                var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
                let writing = !pending.isEmpty ? child.inputDescriptor : nil
                if let writing { fds.append(pollfd(fd: writing, events: Int16(POLLOUT), revents: 0)) }
                let rc = poll(&fds, nfds_t(fds.count), Self.milliseconds(until: deadline))
                if rc < 0 && errno == EINTR { continue }
                if rc == 0 { throw stop(timedOut(timeout)) }
                if let writing, fds.last!.revents != 0 {
                    let n = pending.withUnsafeBytes { Glibc.write(writing, $0.baseAddress!, $0.count) }
                    if n > 0 { pending = pending.dropFirst(n) }
                    // EPIPE: the child closed its stdin early; what it did not read does not matter to it.
                    if n < 0 && errno != EAGAIN && errno != EINTR { pending = [] }
                    if pending.isEmpty { child.closeStandardInput() }
                }
                var index = open.count - 1
                while index >= 0 {
                    defer { index -= 1 }
                    guard fds[index].revents != 0 else { continue }
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(open[index].fd, $0.baseAddress!, $0.count) }
                    if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                    if n <= 0 {
                        sinks[open[index].sink].finish()
                        open.remove(at: index)
                        continue
                    }
                    if !sinks[open[index].sink].take(buffer[0..<n]) {
                        let which = open[index].sink == 0 ? "stdout" : "stderr"
                        throw stop(
                            SmartSyncError(
                                .limitExceeded,
                                "`\(commandLine)` wrote more than \(sinks[open[index].sink].limit) bytes to \(which), "
                                    + "and was stopped"))
                    }
                }
            }
        }
        child.closeStandardInput()
        let termination: Termination
        if let deadline {
            guard let done = child.wait(timeout: max(.zero, deadline - ContinuousClock.now)) else {
                throw stop(timedOut(timeout))
            }
            termination = done
        } else {
            termination = child.wait()
        }
        return ProcessResult(
            commandLine: commandLine, termination: termination, stdout: sinks[0].captured, stderr: sinks[1].captured)
    }

    private func timedOut(_ timeout: Duration?) -> SmartSyncError {
        SmartSyncError(.commandFailed, "`\(commandLine)` did not finish within \(timeout!) and was killed")
    }

    /// `poll`'s timeout for `deadline`: -1 (none), else the milliseconds left (0 once it passed).
    static func milliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}

/// Where one output pipe's bytes go in ``ProcessRunner/runAndWait(input:output:error:timeout:)``.
struct OutputSink {
    private(set) var captured: [UInt8] = []
    private var partialLine: [UInt8] = []
    let limit: Int
    private let lines: (@Sendable (String) -> Void)?

    init(_ output: ProcessRunner.Output) {
        switch output {
        case .capture(let limit):
            self.limit = limit
            lines = nil
        case .lines(let sink):
            limit = .max
            lines = sink
        default:
            limit = .max
            lines = nil
        }
    }

    /// Takes a chunk; false when a capture would pass its limit.
    mutating func take(_ chunk: ArraySlice<UInt8>) -> Bool {
        guard let lines else {
            guard captured.count + chunk.count <= limit else { return false }
            captured.append(contentsOf: chunk)
            return true
        }
        var rest = chunk
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            partialLine.append(contentsOf: rest[rest.startIndex..<newline])
            lines(String(decoding: partialLine, as: UTF8.self))
            partialLine.removeAll(keepingCapacity: true)
            rest = rest[(newline + 1)...]
        }
        partialLine.append(contentsOf: rest)
        return true
    }

    /// End of file: a last line without a newline is handed over too.
    mutating func finish() {
        if let lines, !partialLine.isEmpty {
            lines(String(decoding: partialLine, as: UTF8.self))
            partialLine = []
        }
    }
}
