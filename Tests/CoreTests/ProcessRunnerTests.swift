import Glibc
import SmartSyncCore
import TestSupport
import Testing

@Suite("process runner")
struct ProcessRunnerTests {
    private let plain = ["PATH": "/usr/bin:/bin"]

    @Test func argumentsReachTheChildVerbatimWithoutAShell() throws {
        let r = try ProcessRunner("printf", ["%s\\n", "a b", "$HOME", "*", "it's"], environment: plain).runAndWait()
        #expect(r.termination == .exited(0))
        #expect(r.stdoutString == "a b\n$HOME\n*\nit's\n")
    }

    @Test func theChildGetsExactlyTheEnvironmentItWasGiven() throws {
        let r = try ProcessRunner("/usr/bin/env", environment: ["ONLY": "1", "EMPTY": ""]).runAndWait()
        #expect(r.stdoutString.split(separator: "\n").sorted() == ["EMPTY=", "ONLY=1"])
    }

    @Test func tokenVariablesAreDroppedFromAChildsEnvironment() {
        var inherited = ["PATH": "/bin", "HOME": "/root"]
        for name in ChildEnvironment.tokenVariables { inherited[name] = "secret" }
        #expect(ChildEnvironment.withoutTokens(inherited) == ["PATH": "/bin", "HOME": "/root"])
        #expect(
            Set(ChildEnvironment.tokenVariables)
                == ["GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN", "GITHUB_PAT"])
        #expect(ChildEnvironment.applying(["A": "1", "HOME": nil], to: ["HOME": "/root"]) == ["A": "1"])
    }

    @Test func theWorkingDirectoryIsTheOneAsked() throws {
        let dir = try TemporaryDirectory(prefix: "runner")
        let r = try ProcessRunner("/bin/pwd", ["-P"], environment: plain, workingDirectory: dir.path).runAndWait()
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        #expect(r.output == String(cString: realpath(dir.path, &resolved)))
    }

    @Test func stdinAndBothOutputsMoveTogetherPastThePipeBuffers() throws {
        let input = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let r = try ProcessRunner("/bin/sh", ["-c", "tee /dev/stderr"], environment: plain)
            .runAndWait(input: .bytes(input))
        #expect(r.succeeded)
        #expect(r.stdout == input)
        #expect(r.stderr == input)
    }

    @Test func aChildThatStopsReadingStdinEarlyIsNoError() throws {
        let r = try ProcessRunner("/bin/true", environment: plain)
            .runAndWait(input: .bytes(.init(repeating: 7, count: 4 << 20)))
        #expect(r.termination == .exited(0))
    }

    @Test func outputOverTheCapStopsTheChild() throws {
        let runner = ProcessRunner("/bin/sh", ["-c", "head -c 3000000 /dev/zero; sleep 30"], environment: plain)
        #expect { try runner.runAndWait(output: .capture(limit: 1 << 20)) } throws: { error in
            let e = error as? SmartSyncError
            return e?.code == .limitExceeded && e?.message.contains("more than 1048576 bytes to stdout") == true
        }
    }

    @Test func aChildPastItsTimeoutIsKilled() throws {
        let runner = ProcessRunner("/bin/sleep", ["30"], environment: plain)
        #expect { try runner.runAndWait(timeout: .milliseconds(200)) } throws: { error in
            let e = error as? SmartSyncError
            return e?.code == .commandFailed && e?.message.contains("did not finish within") == true
        }
    }

    @Test func exitStatusAndSignalAreTold() throws {
        let exited = try ProcessRunner("/bin/sh", ["-c", "echo oops >&2; exit 3"], environment: plain).runAndWait()
        #expect(exited.termination == .exited(3))
        #expect(exited.termination.description == "exited with status 3")
        #expect(exited.errorOutput == "oops")
        let killed = try ProcessRunner("/bin/sh", ["-c", "kill -TERM $$"], environment: plain).runAndWait()
        #expect(killed.termination == .signaled(SIGTERM))
        #expect(killed.signaled && killed.status == SIGTERM)
        #expect(killed.termination.description == "was killed by signal 15")
    }

    @Test func aProgramThatCannotStartIsAnErrorNamingIt() throws {
        #expect { try ProcessRunner("/nonexistent/tool-xyz", environment: plain).runAndWait() } throws: { error in
            (error as? SmartSyncError)?.message.contains("/nonexistent/tool-xyz") == true
        }
        #expect { try ProcessRunner("no-such-tool-xyz", environment: plain).runAndWait() } throws: { error in
            (error as? SmartSyncError)?.message.contains("no-such-tool-xyz is not on PATH") == true
        }
        let inMissingDirectory = ProcessRunner("/bin/true", environment: plain, workingDirectory: "/nonexistent/dir")
        #expect { try inMissingDirectory.runAndWait() } throws: { error in
            (error as? SmartSyncError)?.message.contains("in /nonexistent/dir") == true
        }
    }

    @Test func noDescriptorOfOursLeaksIntoAChild() throws {
        let dir = try TemporaryDirectory(prefix: "runner")
        let marker = dir.appending("held-open")
        let fd = open(marker, O_CREAT | O_RDWR, 0o600)  // deliberately without O_CLOEXEC
        try #require(fd >= 0)
        defer { close(fd) }
        let r = try ProcessRunner("/bin/ls", ["-l", "/proc/self/fd/"], environment: plain).runAndWait()
        #expect(r.succeeded)
        #expect(!r.stdoutString.contains(marker), "\(r.stdoutString)")
    }

    @Test func childrenStartWithNoBlockedOrIgnoredSignals() throws {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let r = try ProcessRunner("/bin/grep", ["-E", "^Sig(Blk|Ign):", "/proc/self/status"], environment: plain)
            .runAndWait()
        // Signals 1-31 (glibc's posix_spawn leaves its internal real-time signals 32 and 33 ignored).
        let masks = r.stdoutString.split(separator: "\n").map { UInt64($0.split(separator: "\t")[1], radix: 16)! }
        #expect(masks.count == 2)
        #expect(masks.allSatisfy { $0 & 0x7fff_ffff == 0 }, "\(r.stdoutString)")
    }

    @Test func linesAndMergedStderrAreHandedOverInOrder() throws {
        let lines = Locked<[String]>([])
        let r = try ProcessRunner("/bin/sh", ["-c", "echo one; echo two >&2; printf three"], environment: plain)
            .runAndWait(output: .lines { line in lines.withLock { $0.append(line) } }, error: .sameAsOutput)
        #expect(r.succeeded)
        #expect(lines.withLock { $0 } == ["one", "two", "three"])
    }

    @Test func aStartedChildTakesStdinAndGivesStdout() throws {
        let cat = try ProcessRunner("/bin/cat", environment: plain).start(input: .pipe, output: .pipe)
        try cat.write(Array("hello\n".utf8))
        cat.closeStandardInput()
        #expect(try cat.readToEnd(cat.standardOutput!) == Array("hello\n".utf8))
        #expect(cat.wait() == .exited(0))
        #expect(!cat.isRunning)
        #expect(cat.termination == .exited(0))
    }

    @Test func terminateFallsBackToSIGKILLForAChildThatIgnoresSIGTERM() throws {
        let polite = try ProcessRunner("/bin/sleep", ["30"], environment: plain).start()
        #expect(polite.isRunning)
        #expect(polite.terminate() == .signaled(SIGTERM))
        let stubborn = try ProcessRunner(
            "/bin/sh", ["-c", "trap '' TERM; echo ready; exec sleep 30"], environment: plain
        ).start(output: .pipe)
        #expect(try stubborn.read(stubborn.standardOutput!) == Array("ready\n".utf8))
        #expect(stubborn.terminate(grace: .milliseconds(300)) == .signaled(SIGKILL))
    }

    /// The reason the runner is our own: many blocking runs at once, from tasks of the cooperative pool, finish
    /// (a blocking bridge over an async-only runner hangs once they fill the pool).
    @Test func manyConcurrentRunsFromTheCooperativePoolFinish() async throws {
        let statuses = try await withThrowingTaskGroup(of: Termination.self) { group in
            for _ in 0..<16 {
                group.addTask { try ProcessRunner("/bin/true", environment: plain).runAndWait().termination }
                group.addTask { try await ProcessRunner("/bin/true", environment: plain).run().termination }
            }
            return try await group.reduce(into: [Termination]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: .exited(0), count: 32))
    }
}
