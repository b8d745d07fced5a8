import Glibc
import SmartSyncCore
import TestSupport
import Testing

/// `Output.newFile`: a child's output into a file it creates, never one that was there or a symlink's target.
@Suite("process runner: new files")
struct ProcessRunnerNewFileTests {
    @Test func writesANewFileAndRefusesAnExistingOneOrASymlink() async throws {
        let dir = try TemporaryDirectory(prefix: "newfile")
        let echo = ProcessRunner("/bin/echo", ["hello"], environment: ["PATH": "/usr/bin:/bin"])
        let fresh = dir.appending("fresh")
        let r = try await echo.run(output: .newFile(fresh))
        #expect(r.status == 0)
        #expect(TestFiles.read(fresh) == "hello\n")

        let victim = dir.appending("victim")
        try TestFiles.write(victim, "keep\n")
        await #expect(throws: SmartSyncError.self) { _ = try await echo.run(output: .newFile(victim)) }
        let link = dir.appending("link")
        try TestFiles.symlink(link, to: victim)
        await #expect(throws: SmartSyncError.self) { _ = try await echo.run(output: .newFile(link)) }
        #expect(TestFiles.read(victim) == "keep\n")
    }
}
