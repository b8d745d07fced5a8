import Glibc
import SmartSyncCore
import SmartSyncGitObjects

extension ProcessRunner {
    /// Runs `git cat-file --batch` in `repository` for `ids` and hands `body` a reader of its answers (per id a
    /// `<id> <type> <size>` line, the content and a newline, or `<id> missing`). The ids are fed from a thread of their
    /// own: git answers as it reads, and both pipes must keep moving. git is stopped when `body` returns or throws.
    static func withCatFileBatch<T>(
        _ ids: [ObjectID], in repository: String, _ body: (PipeReader) throws -> T
    ) throws -> T {
        let git = try ProcessRunner.git(["cat-file", "--batch"], in: repository)
            .start(input: .pipe, output: .pipe, error: .discard)
        defer {
            if git.isRunning { git.signal(SIGTERM) }
            git.wait()
        }
        let request = Array(ids.map { $0.hex + "\n" }.joined().utf8)
        DedicatedThread.start(name: "ss-cat-file-in") {
            try? git.write(request)
            git.closeStandardInput()
        }
        return try body(PipeReader(fd: git.standardOutput!))
    }
}
