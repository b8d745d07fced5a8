import Glibc
import SmartSyncCore
import Testing

/// `StandardStream`: the whole text reaches the descriptor, in one piece or many; a reader that is gone or slow
/// costs the text, never the process.
@Suite("StandardStream")
struct StandardStreamTests {
    @Test func writesEverythingThroughAPipe() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let saved = dup(STDOUT_FILENO)
        dup2(fds[1], STDOUT_FILENO)
        close(fds[1])
        let text = String(repeating: "0123456789abcdé\n", count: 1000)  // 17 KB: more than one write of a pipe
        let reader = PipeReader(fd: fds[0])
        StandardStream.output.write(text)
        dup2(saved, STDOUT_FILENO)
        close(saved)
        #expect(String(decoding: reader.wait(), as: UTF8.self) == text)
    }

    /// A pipe whose reader has closed: the write returns (the text dropped) instead of SIGPIPE ending the process,
    /// and the process's SIGPIPE disposition stays the default (children inherit it). In a child process: the test
    /// replaces stdout. The child sets SIGPIPE to its default and unblocks it first: one ignored or blocked by
    /// whatever started the tests would be inherited and let the test pass whatever the writer did.
    @Test func aClosedPipeDropsTheTextAndTheProcessLives() async {
        await #expect(processExitsWith: .exitCode(0)) {
            alarm(60)  // a hang ends the child (SIGALRM), and the test fails instead of hanging
            signal(SIGPIPE, SIG_DFL)
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_UNBLOCK, &pipeSignal, nil)
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { _exit(90) }
            close(fds[0])
            dup2(fds[1], STDOUT_FILENO)
            StandardStream.output.write("the reader is gone\n")
            StandardStream.output.write(String(repeating: "x", count: 100_000))
            var action = sigaction()
            sigaction(SIGPIPE, nil, &action)
            var mask = sigset_t()
            pthread_sigmask(SIG_SETMASK, nil, &mask)
            _exit(action.__sigaction_handler.sa_handler == nil && sigismember(&mask, SIGPIPE) == 0 ? 0 : 92)
        }
    }

    /// A non-blocking stdout (`O_NONBLOCK` on the pipe, set by whoever shares it) answers `EAGAIN` when full: the
    /// writer waits for room (`poll`) and the whole text arrives. In a child process: the test replaces stdout.
    @Test func aFullNonBlockingPipeWaitsForRoom() async {
        await #expect(processExitsWith: .exitCode(0)) {
            alarm(60)  // a writer that never sees room ends the child (SIGALRM): the test fails, CI does not hang
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { _exit(90) }
            _ = fcntl(fds[1], 1031, 4096)  // F_SETPIPE_SZ (Linux; not in the Glibc module)
            _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
            dup2(fds[1], STDOUT_FILENO)
            close(fds[1])
            let text = String(repeating: "0123456789abcdef", count: 64 * 1024)  // 1 MiB through a 4 KiB pipe
            let reader = PipeReader(fd: fds[0])
            StandardStream.output.write(text)
            close(STDOUT_FILENO)
            _exit(reader.wait().count == text.utf8.count ? 0 : 93)
        }
    }
}

/// Reads a descriptor to its end on a thread of its own (a pipe's writer would block on a full pipe otherwise).
private final class PipeReader: @unchecked Sendable {
    private let done = Condition()
    private var bytes: [UInt8]?

    init(fd: Int32) {
        DedicatedThread.start(name: "ss-test-pipe") {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                out.append(contentsOf: buffer[0..<n])
            }
            close(fd)
            self.done.lock()
            self.bytes = out
            self.done.broadcast()
            self.done.unlock()
        }
    }

    func wait() -> [UInt8] {
        done.lock()
        defer { done.unlock() }
        while bytes == nil { done.wait() }
        return bytes!
    }
}
