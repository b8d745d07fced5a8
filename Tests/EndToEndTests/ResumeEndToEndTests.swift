import Foundation
import TestSupport
import Testing

/// A repository with one large blob (kept as a resumable partial) and a few small files.
enum ResumeFixture {
    static let bigPath = "images/big.bin"
    static let bigSize = 2 << 20

    static func content(size: Int, seed: UInt32) -> [UInt8] {
        var x = seed
        return (0..<size).map { _ in
            x = x &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: x >> 24)
        }
    }

    /// Returns the commit.
    static func commit(_ repo: GitFixture, bigSize: Int = bigSize) throws -> String {
        try repo.write("README.md", "# resume\n")
        try repo.write("bin/run.sh", "#!/bin/sh\necho run\n", executable: true)
        try repo.write(bigPath, content(size: bigSize, seed: 7))
        try repo.symlink("latest", to: bigPath)
        return try repo.commit("resume fixture")
    }

    /// A fault rule for the big blob on the raw host.
    static func rule(_ action: String, times: Int = 1) -> String {
        #"{"match": {"listener": "raw", "path_regex": "big\\.bin$"}, "times": \#(times), "action": \#(action)}"#
    }
}

@Suite("resume and retries against the GitHub-shaped server", .serialized)
struct ResumeEndToEndTests {
    private func bigRequests(_ s: Scenario) throws -> [LoggedRequest] {
        try s.rawRequests().filter { $0.path.hasSuffix("big.bin") }
    }

    @Test func connectionResetMidBodyResumesWithRange() throws {
        let s = try Scenario()
        let commit = try ResumeFixture.commit(s.repo)
        try s.server.setFaults("[\(ResumeFixture.rule(#"{"reset_after_bytes": 600000}"#))]")
        try s.sync()
        try s.expectTargetEqualsArchive(commit)
        let big = try bigRequests(s)
        try #require(big.count == 2, "\(big)")
        #expect(big[0].range == nil)
        let range = try #require(big[1].range)
        let offset = try #require(Int(range.dropFirst("bytes=".count).dropLast()))
        #expect(offset > 0 && offset <= 600_000)
        #expect(big[1].status == 206)
        #expect(big[1].headers["if-range"] != nil)
        #expect(big[1].bytes == ResumeFixture.bigSize - offset)
    }

    @Test func truncatedBodyResumesFromTheLastByte() throws {
        let s = try Scenario()
        let commit = try ResumeFixture.commit(s.repo)
        try s.server.setFaults("[\(ResumeFixture.rule(#"{"truncate_after_bytes": 700000}"#))]")
        try s.sync()
        try s.expectTargetEqualsArchive(commit)
        let big = try bigRequests(s)
        try #require(big.count == 2, "\(big)")
        #expect(big[1].range == "bytes=700000-")
        #expect(
            big[1].headers["if-range"] == "\"\(try s.repo.git("rev-parse", "\(commit):\(ResumeFixture.bigPath)"))\"")
        #expect(big[1].status == 206)
        #expect(big[0].bytes + big[1].bytes == ResumeFixture.bigSize)
    }

    @Test func corruptedByteIsRefetchedFromZero() throws {
        let s = try Scenario()
        let commit = try ResumeFixture.commit(s.repo)
        try s.server.setFaults("[\(ResumeFixture.rule(#"{"corrupt_byte_at": 123456}"#))]")
        try s.sync()
        try s.expectTargetEqualsArchive(commit)
        let big = try bigRequests(s)
        try #require(big.count == 2, "\(big)")
        // The corrupt copy was discarded whole: the refetch asks from byte 0, not for a range.
        #expect(big.allSatisfy { $0.range == nil && $0.status == 200 && $0.bytes == ResumeFixture.bigSize })
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s.store + "/partials").filter { !$0.hasPrefix(".") }
                .isEmpty)
    }

    @Test func ignoredRangeStartsTheObjectOver() throws {
        let s = try Scenario()
        let commit = try ResumeFixture.commit(s.repo)
        try s.server.setFaults(
            "[\(ResumeFixture.rule(#"{"reset_after_bytes": 500000}"#)), "
                + "\(ResumeFixture.rule(#"{"ignore_range": true}"#))]"
        )
        try s.sync()
        try s.expectTargetEqualsArchive(commit)
        let big = try bigRequests(s)
        try #require(big.count == 2, "\(big)")
        // Asked for the rest, got a 200 with everything: taken from byte 0, not appended.
        #expect(big[1].range != nil)
        #expect(big[1].status == 200)
        #expect(big[1].bytes == ResumeFixture.bigSize)
    }

    @Test(arguments: [1_048_576, 3_000_000])
    func wrongContentLengthIsRefusedAndAskedAgain(announced: Int) throws {
        let s = try Scenario()
        let commit = try ResumeFixture.commit(s.repo)
        try s.server.setFaults("[\(ResumeFixture.rule(#"{"wrong_content_length": \#(announced)}"#))]")
        try s.sync()
        try s.expectTargetEqualsArchive(commit)
        let big = try bigRequests(s)
        try #require(big.count == 2, "\(big)")
        // The misframed body was refused before a byte was taken (so its connection was not reused either).
        #expect(big[1].range == nil)
        #expect(big[1].status == 200 && big[1].bytes == ResumeFixture.bigSize)
    }

    @Test func tooManyFailuresLeaveTheTargetAndKeepThePartial() throws {
        let s = try Scenario()
        let a = try ResumeFixture.commit(s.repo)
        try s.sync()
        try s.repo.write(ResumeFixture.bigPath, ResumeFixture.content(size: ResumeFixture.bigSize, seed: 9))
        _ = try s.repo.commit("new big")
        // The fallback clone is refused too, so the run fails and keeps what arrived.
        try s.server.setFaults(
            "[\(ResumeFixture.rule(#"{"reset_after_bytes": 300000}"#, times: 1)), "
                + "\(ResumeFixture.rule(#"{"status": 503}"#, times: 100)), "
                + #"{"match": {"listener": "git"}, "action": {"status": 500}}]"#
        )
        let r = try s.run("sync", ["--retries", "1"])
        #expect(r.status == 5, "\(r.stderrString)")
        #expect(r.stderrString.contains("503"), "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
        // What arrived is kept for the next run.
        let partials = try FileManager.default.contentsOfDirectory(atPath: s.store + "/partials")
        #expect(partials.contains { $0.hasSuffix(".meta") }, "\(partials)")
        try s.server.clearFaults()
        try s.server.clearLog()
        try s.sync()
        let big = try bigRequests(s)
        #expect(big.count == 1)
        #expect(big.first?.range.map { $0.hasPrefix("bytes=") && $0 != "bytes=0-" } == true, "\(big)")
    }
}
