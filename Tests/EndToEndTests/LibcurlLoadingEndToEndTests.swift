import Foundation
import TestSupport
import Testing

/// libcurl is loaded with dlopen when a run needs the network, never by the dynamic loader at exec ("libcurl loaded
/// on demand" in docs/ARCHITECTURE.md). The loader's own trace (`LD_DEBUG=files`, on stderr) names every library a
/// process maps, at exec or by dlopen.
@Suite("libcurl is loaded only by a run that needs the network")
struct LibcurlLoadingEndToEndTests {
    private static let trace: [String: String?] = ["LD_DEBUG": "files", "NO_COLOR": "1"]

    /// A sync of a GitHub repository whose API is a closed port: it needs the network, so it loads libcurl (and fails
    /// to connect).
    private func unreachableGitHubSync(_ dirs: TemporaryDirectory, environment: [String: String?]) throws
        -> ProcessResult
    {
        try SmartSyncBinary.run(
            [
                "sync", "owner/repo", "--ref", "main", "--api-url", "http://127.0.0.1:1", "--git-url",
                "http://127.0.0.1:1", "--target", dirs.appending("target"), "--store", dirs.appending("store"),
                "--state-dir", dirs.appending("state"),
            ],
            environment: environment.merging(["HOME": dirs.path]) { $1 }, check: false)
    }

    @Test func versionAndALocalSyncNeverMapLibcurl() throws {
        let version = try SmartSyncBinary.run(["--version"], environment: Self.trace)
        #expect(version.stderrString.contains("libc.so.6"), "LD_DEBUG=files traced nothing: \(version.stderrString)")
        #expect(!version.stderrString.contains("libcurl"))

        let repo = try GitFixture()
        let a = try Fixtures.commitA(repo)
        let dirs = try TemporaryDirectory(prefix: "nocurl")
        let local = try SmartSyncBinary.run(
            [
                "sync", "--source", repo.path, "--ref", a, "--target", dirs.appending("target"), "--store",
                dirs.appending("store"), "--state-dir", dirs.appending("state"),
            ],
            environment: Self.trace.merging(["HOME": dirs.path]) { $1 }, check: false)
        #expect(local.status == 0, "\(local.stderrString.suffix(2000))")
        #expect(!local.stderrString.contains("libcurl"))

        // The control: the same trace names libcurl.so.4 when a run does need the network.
        let remote = try unreachableGitHubSync(dirs, environment: Self.trace)
        #expect(remote.status != 0)
        #expect(remote.stderrString.contains("libcurl.so.4"))
    }

    @Test func aLibcurlThatCannotBeLoadedIsNamedWithAHint() throws {
        let dirs = try TemporaryDirectory(prefix: "badcurl")
        // Not an ELF file: the loader finds it first on LD_LIBRARY_PATH and refuses it.
        let libraries = dirs.appending("lib")
        try FileManager.default.createDirectory(atPath: libraries, withIntermediateDirectories: true)
        try Data("not a library\n".utf8).write(to: URL(fileURLWithPath: libraries + "/libcurl.so.4"))
        let r = try unreachableGitHubSync(dirs, environment: ["LD_LIBRARY_PATH": libraries, "NO_COLOR": "1"])
        #expect(r.status != 0)
        #expect(r.stderrString.contains("libcurl.so.4"), "\(r.stderrString)")
        #expect(r.stderrString.contains("apt-get install libcurl4"), "\(r.stderrString)")
        #expect(!r.stderrString.contains("could not connect"), "no request can be made without libcurl")

        // libcurl is loaded by the engine's thread while the run loads its state and scans the target: with a
        // target to scan, the run ends with the same error and status, the target untouched.
        let target = dirs.appending("target")
        try FileManager.default.createDirectory(atPath: target + "/etc/sub", withIntermediateDirectories: true)
        for index in 0..<400 {
            try Data("file \(index)\n".utf8).write(to: URL(fileURLWithPath: "\(target)/etc/sub/f\(index)"))
        }
        let scanning = try unreachableGitHubSync(dirs, environment: ["LD_LIBRARY_PATH": libraries, "NO_COLOR": "1"])
        #expect(scanning.status == r.status)
        #expect(scanning.status == 1, "an internal error: \(scanning.stderrString)")
        #expect(
            scanning.stderrString.contains("this run needs the network and libcurl is unusable"),
            "\(scanning.stderrString)")
        #expect(scanning.stderrString.contains("apt-get install libcurl4"), "\(scanning.stderrString)")
        #expect(!scanning.stderrString.contains("warning:"), "no other transport or source is tried without libcurl")
        #expect(try FileManager.default.contentsOfDirectory(atPath: target + "/etc/sub").count == 400)

        // The same environment does not stop a run that needs no request.
        let version = try SmartSyncBinary.run(
            ["--version"], environment: ["LD_LIBRARY_PATH": libraries], check: false)
        #expect(version.status == 0, "\(version.stderrString)")
    }
}
