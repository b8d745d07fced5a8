import Foundation
import TestSupport
import Testing

/// `--max-wait` caps how long a throttled host is held, whatever its `Retry-After` asks; `--max-wait 0` still holds
/// it for the jittered backoff (it is not a way to turn host backoff off). Read from the engine's log, not the clock.
@Suite("--max-wait and the host-wide backoff", .serialized)
struct MaxWaitEndToEndTests {
    /// The pauses (seconds) the log says a throttled host was held for.
    private func pauses(_ stderr: String) -> [Double] {
        stderr.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "new requests to it wait ") else { return nil }
            return Double(line[range.upperBound...].prefix { $0 != " " })
        }
    }

    @Test(arguments: [(1.0, "1"), (0.5, "0")])
    func aLongRetryAfterHoldsTheHostNoLongerThanMaxWait(most: Double, maxWait: String) throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.server.setFaults(
            #"[{"match": {"listener": "raw"}, "times": 1, "action": {"status": 429, "retry_after": 3600}}]"#)
        let r = try s.run("sync", ["-v", "--transport", "raw", "--max-wait", maxWait])
        let held = pauses(r.stderrString)
        #expect(held.count == 1, "\(r.stderrString)")
        #expect(held.allSatisfy { $0 > 0 && $0 <= most }, "\(held)")
        // The request's own retry does not sleep through an hour either: it is asked again and the sync completes.
        #expect(r.status == 0, "\(r.stderrString)")
        try s.expectTargetEqualsArchive(a)
    }
}
