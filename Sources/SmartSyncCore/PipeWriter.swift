import Glibc

/// Writes to a pipe whose reader may be gone: `EPIPE` instead of a SIGPIPE that would kill us.
enum PipeWriter {
    /// Runs `body` with SIGPIPE blocked on this thread, then discards a SIGPIPE it raised and restores the mask.
    static func withoutSIGPIPE<R>(_ body: () throws -> R) rethrows -> R {
        var pipeOnly = sigset_t()
        sigemptyset(&pipeOnly)
        sigaddset(&pipeOnly, SIGPIPE)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous)
        defer {
            var pending = sigset_t()
            sigpending(&pending)
            if sigismember(&pending, SIGPIPE) == 1 && sigismember(&previous, SIGPIPE) == 0 {
                var zero = timespec(tv_sec: 0, tv_nsec: 0)
                _ = sigtimedwait(&pipeOnly, nil, &zero)
            }
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        return try body()
    }
}
