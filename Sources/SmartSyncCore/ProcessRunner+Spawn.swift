import CLinuxShims
import Glibc

extension ProcessRunner {
    /// Starts the child and returns at once: a ``ChildProcess`` that keeps running until it exits or is stopped.
    ///
    /// `.pipe` streams become the handle's ``ChildProcess/write(_:)``, ``ChildProcess/standardOutput`` and
    /// ``ChildProcess/standardError``; `.bytes`, `.capture` and `.lines` need the pump of
    /// ``runAndWait(input:output:error:timeout:)`` and are taken as `.pipe` here. Throws `.commandFailed` when
    /// the child cannot be started (no such program, not executable, no such working directory).
    public func start(input: Input = .none, output: Output = .discard, error: Output = .discard) throws
        -> ChildProcess
    {
        let path = try resolvedExecutable()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Our ends of the pipes (closed in the child by closefrom) and the child's ends (closed here after spawn).
        var ours: [Int32?] = [nil, nil, nil]
        var theirs: [Int32] = []
        var failure: SmartSyncError?
        func pipeFor(_ fd: Int32) {
            var ends: [Int32] = [-1, -1]
            guard ss_pipe2(&ends, O_CLOEXEC) == 0 else {
                failure = SmartSyncError.io("pipe2", path: commandLine)
                return
            }
            let (childEnd, ourEnd) = fd == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
            ours[Int(fd)] = ourEnd
            theirs.append(childEnd)
            posix_spawn_file_actions_adddup2(&actions, childEnd, fd)
        }
        switch input {
        case .none: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .bytes, .pipe: pipeFor(0)
        }
        for (fd, stream) in [(Int32(1), output), (Int32(2), error)] {
            switch stream {
            case .discard: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
            case .file(let file):
                posix_spawn_file_actions_addopen(&actions, fd, file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .newFile(let file):
                posix_spawn_file_actions_addopen(&actions, fd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644)
            case .standardError: posix_spawn_file_actions_adddup2(&actions, 2, fd)
            case .sameAsOutput: posix_spawn_file_actions_adddup2(&actions, 1, fd)
            case .capture, .lines, .pipe: pipeFor(fd)
            }
        }
        func closeAll() {
            for fd in theirs { close(fd) }
            for fd in ours { if let fd { close(fd) } }
        }
        if let failure {
            closeAll()
            throw failure
        }
        ss_spawn_addclosefrom(&actions, 3)
        if let workingDirectory { ss_spawn_addchdir(&actions, workingDirectory) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = [path] + arguments
        let envp = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = Self.withCStrings(argv) { cArgv in
            Self.withCStrings(envp) { cEnvp in posix_spawn(&pid, path, &actions, &attributes, cArgv, cEnvp) }
        }
        for fd in theirs { close(fd) }
        guard rc == 0 else {
            for fd in ours { if let fd { close(fd) } }
            let place = workingDirectory.map { " in \($0)" } ?? ""
            throw SmartSyncError(
                .commandFailed, "could not start `\(commandLine)`\(place): \(String(cString: strerror(rc)))",
                cause: SystemCallError("posix_spawn", errno: rc))
        }
        return ChildProcess(pid: pid, commandLine: commandLine, stdin: ours[0], stdout: ours[1], stderr: ours[2])
    }

    /// A NULL-terminated `char *[]` of `strings` for the duration of `body`.
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
