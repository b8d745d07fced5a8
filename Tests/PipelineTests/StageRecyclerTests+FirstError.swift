import Foundation
import Glibc
import Logging
import SmartSyncCore
import TestSupport
import Testing

@testable import SmartSyncPipeline

extension StageRecyclerTests {
    /// Two files of the spare that cannot be removed (each a bind mount: `unlink` is EBUSY): `d0/x` in a directory a
    /// worker walks and `zz` at the root, which the calling thread reaches after handing `d0` out. One thread fails
    /// at `d0/x`, the first in path order; so must the split pass (as the carrier's split walk does,
    /// ``aSplitCarryReportsTheFirstErrorInPathOrder(_:)``). The error only decides the log's reason for building the
    /// stage from the store: read there. (With `shares` 1,000, `d0`'s files are the calling thread's: one thread's
    /// order either way; `shares` 1 is the case that tells.)
    @Test(arguments: splits)
    func aSplitPassReportsTheFirstErrorInPathOrder(_ split: StageRecycler.Split) async throws {
        guard geteuid() == 0 else {
            print("skipped on this machine: mount --bind needs root")
            return
        }
        let t = try await Self.spareWithMounts(split, at: ["d0/x", "zz"])
        defer { Self.unmountEverything(below: t.dirs.path) }
        let log = RecordingLogHandler()
        t.runner.logger = log.logger
        let outcome = try await t.sync(1)
        #expect(outcome.applied?.recycled == false)
        try t.expectTarget(1)
        let refused = log.recorded.filter { $0.contains("the spare tree refused") }
        #expect(refused.count == 1, "\(log.recorded)")
        #expect(refused.first?.contains("/d0/x'") == true, "\(refused)")
    }
}
