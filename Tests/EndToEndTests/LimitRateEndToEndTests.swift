import Foundation
import TestSupport
import Testing

@Suite("--limit-rate end to end", .serialized)
struct LimitRateEndToEndTests {
    /// Eight 256 KiB blobs (2 MiB) of distinct pseudo-random bytes, plus a small text file.
    static func commitTwoMebibytes(_ repo: GitFixture) throws -> String {
        for index in 0..<8 {
            try repo.write("images/part\(index).bin", noise(256 << 10, seed: UInt64(index + 1)))
        }
        try repo.write("README.md", "# big\n")
        return try repo.commit("two mebibytes")
    }

    /// Deterministic incompressible bytes (xorshift64*).
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = (seed &* 0x9E37_79B9_7F4A_7C15) | 1
        var bytes = [UInt8](repeating: 0, count: count)
        for index in 0..<count {
            if index % 8 == 0 {
                state ^= state >> 12
                state ^= state << 25
                state ^= state >> 27
            }
            bytes[index] = UInt8(truncatingIfNeeded: (state &* 2_685_821_657_736_338_717) >> (8 * UInt64(index % 8)))
        }
        return bytes
    }

    @Test func syncAtTwoHundredFiftySixKilobytesPerSecond() throws {
        let s = try Scenario()
        let commit = try Self.commitTwoMebibytes(s.repo)
        let limit = 256 << 10
        let summary = try s.sync(["--limit-rate", "256K"])
        try s.expectTargetEqualsArchive(commit)
        let bytes = try #require(summary["bytesReceived"] as? Int)
        let seconds = try #require(summary["seconds"] as? Double)
        #expect(bytes >= 8 * (256 << 10), "fewer bytes than the blobs hold: \(bytes)")
        // The budget bounds the whole run from below (less 10 % for the initial burst and rounding); a slow machine
        // can only take longer, so there is no upper bound.
        let floor = Double(bytes) / Double(limit) * 0.9
        #expect(seconds >= floor, "\(bytes) bytes in \(seconds) s is faster than --limit-rate 256K allows")
        print(
            "e2e --limit-rate 256K: \(bytes) bytes in \(seconds) s = \(Double(bytes) / seconds / Double(limit)) x limit"
        )
        // Every blob was fetched once, whole.
        let raw = try s.rawRequests()
        #expect(raw.count == 9)
        #expect(raw.allSatisfy { $0.status == 200 })
    }
}
