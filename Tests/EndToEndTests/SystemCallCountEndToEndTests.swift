import Foundation
import TestSupport
import Testing

/// Work that does not depend on the tree is done once per run, not once per file: counted with `strace -c` (a count
/// of system calls, not a time).
@Suite("system calls done once per run", .serialized)
struct SystemCallCountEndToEndTests {
    /// How many times smart-sync itself (its threads, not the `git` it runs) called `call` in a run with `arguments`,
    /// as `strace -f` records it.
    private func count(_ call: String, _ arguments: [String], _ dirs: TemporaryDirectory) throws -> Int {
        let out = dirs.appending("strace-\(call)")
        let binary = try SmartSyncBinary.path()
        let r = try ProcessRunner.run(
            "/usr/bin/strace", ["-f", "-e", "trace=\(call),execve", "-o", out, binary] + arguments,
            environment: ["HOME": dirs.path, "NO_COLOR": "1"], check: false)
        try #require(r.status == 0, "\(r.stderrString)")
        // Lines are `PID call(arguments) = result`; a child that runs another program is left out from its `execve`.
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        let others = Set(
            lines.filter { $0.contains(" execve(") && !$0.contains("execve(\"\(binary)\"") }.map {
                $0.prefix { $0 != " " }
            })
        return lines.filter { $0.contains(" \(call)(") && !others.contains($0.prefix { $0 != " " }) }.count
    }

    /// The sealed owner (the effective user) is asked once, not for every file a scan or the recycler vouches for: an
    /// update of 2 in 600 files called `geteuid` once per file looked at.
    @Test func geteuidIsAskedOncePerRunNotPerFile() throws {
        let repo = try GitFixture()
        let dirs = try TemporaryDirectory(prefix: "geteuid")
        defer { dirs.remove() }
        for i in 0..<600 { try repo.write("d\(i % 20)/f\(i)", "file \(i)\n") }
        var commits = [try repo.commit("0")]
        for round in 1...5 {
            try repo.write("d0/f0", "round \(round)\n")
            try repo.write("d1/f1", "round \(round)\n")
            commits.append(try repo.commit("\(round)"))
        }
        let base = [
            "sync", "--source", repo.path, "--target", dirs.appending("target"), "--store", dirs.appending("store"),
            "--state-dir", dirs.appending("state"),
        ]
        // Enough generations for a spare tree: the last update recycles it and vouches for its files.
        for commit in commits.dropLast() {
            let r = try SmartSyncBinary.run(
                base + ["--ref", commit], environment: ["HOME": dirs.path, "NO_COLOR": "1"], check: false)
            try #require(r.status == 0, "\(r.stderrString)")
        }
        let calls = try count("geteuid", base + ["--ref", commits[commits.count - 1]], dirs)
        #expect(calls < 10, "geteuid was called \(calls) times in an update of 600 files")
    }
}
