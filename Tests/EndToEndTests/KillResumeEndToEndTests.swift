import Foundation
import Glibc
import TestSupport
import Testing

@Suite("resume across a kill -9", .serialized)
struct KillResumeEndToEndTests {
    static let size = 64 << 20
    static let stallAt = 32 << 20

    /// With `oldMetadata`, the kept partial's metadata is turned into the text smart-sync 0.1.0 wrote (as in
    /// `Tests/Fixtures/Records/partial-*.meta`) before the rerun: a partial a killed run of that release left is
    /// resumed.
    @Test(arguments: [false, true]) func killedMidBlobResumesFromTheKeptOffset(oldMetadata: Bool) throws {
        let repo = try GitFixture()
        var random = [UInt8](repeating: 0, count: Self.size)
        let fd = open("/dev/urandom", O_RDONLY)
        try #require(fd >= 0)
        var got = 0
        while got < random.count {
            let n = random.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
            try #require(n > 0)
            got += n
        }
        close(fd)
        try repo.write("README.md", "# big\n")
        try repo.write("disk.img", random)
        let commit = try repo.commit("big")
        let blob = try repo.git("rev-parse", "\(commit):disk.img")
        let s = try Scenario(repo: repo)

        // The first run sits mid-blob: half the body, then a long pause.
        try s.server.setFaults(
            #"[{"match": {"listener": "raw", "path_regex": "disk\\.img$"}, "times": 1, "#
                + #""action": {"stall_after_bytes": \#(Self.stallAt), "stall_ms": 8000}}]"#
        )
        let process = try ProcessRunner(
            try SmartSyncBinary.path(),
            [
                "sync", s.slug, "--transport", "raw", "--api-url", s.server.apiURL, "--raw-url", s.server.rawURL,
                "--git-url", s.server.gitURL,
                "--store", s.store,
                "--state-dir", s.stateDir, "--target", s.target,
            ],
            environment: s.environment().compactMapValues { $0 }
        ).start()

        // Wait until the partial holds (nearly) everything sent before the pause, and stops growing.
        let partial = s.store + "/partials/" + blob
        var kept = 0
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            let now = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0
            if now >= Self.stallAt - (1 << 20), now == kept { break }
            kept = now
            usleep(200_000)
        }
        process.signal(SIGKILL)
        #expect(process.wait().signaled)
        try #require(kept >= Self.stallAt - (1 << 20), "the partial only reached \(kept) bytes")
        #expect(!FileManager.default.fileExists(atPath: s.target + "/disk.img"))

        if oldMetadata { try Self.writeAsRelease010(partial + ".meta") }

        try s.server.clearFaults()
        let summary = try s.sync()
        try s.expectTargetEqualsArchive(commit)
        #expect(summary["commit"] as? String == commit)

        // The rerun asked for the rest, from exactly what the killed run kept.
        let raw = try s.rawRequests()
        let resumed = raw.filter { $0.path.hasSuffix("disk.img") && $0.range != nil }
        try #require(resumed.count == 1, "\(raw)")
        #expect(resumed[0].range == "bytes=\(kept)-")
        #expect(resumed[0].status == 206)
        // The stalled response is logged when the server gives up on it (after its pause): wait for it.
        var all: [LoggedRequest] = []
        let logDeadline = Date().addingTimeInterval(12)
        repeat {
            all = try s.rawRequests().filter { $0.path.hasSuffix("disk.img") }
            if all.count >= 2 { break }
            usleep(200_000)
        } while Date() < logDeadline
        try #require(all.count == 2, "\(all)")
        let served = all.reduce(0) { $0 + $1.bytes }
        #expect(served <= Self.size + (1 << 20), "served \(served) bytes in total")
        #expect(!FileManager.default.fileExists(atPath: partial))
    }

    /// Rewrites the partial metadata at `path` (a JSON record) in the `key value` text of smart-sync 0.1.0.
    static func writeAsRelease010(_ path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let line = data.prefix { $0 != UInt8(ascii: "\n") }
        let record = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        try #require(record["format"] as? String == "smart-sync-partial", "\(record)")
        var lines = ["smart-sync-partial 1"]
        for key in ["id", "size", "url", "validator", "written"] {
            if let value = record[key] { lines.append("\(key) \(value)") }
        }
        try #require(lines.count >= 5, "\(lines)")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
    }
}
