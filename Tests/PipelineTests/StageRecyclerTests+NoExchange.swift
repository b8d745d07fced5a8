import Foundation
import Glibc
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A cold sync on a file system that refuses `renameat2(RENAME_EXCHANGE)`: it needs no exchange itself (a rename), but
/// every update after it applies in place, so it leaves no spare tree.
extension StageRecyclerTests {
    /// Before, the cold sync left a spare and reserves (a link per file each), and the first update recycled the spare
    /// into a stage, dropped it when the exchange was refused, and dropped the reserves. The refusal is made by the
    /// checkpoints of the cold sync's probe and of the switch (no file system here refuses it while allowing links).
    @Test func aColdSyncWhereTheExchangeIsRefusedLeavesNoSpare() async throws {
        let t = try await Setup(mode: .hardlink)
        t.runner.keepGenerations = 3
        t.runner.checkpoint = { name in
            if name == "probe-exchange" || name == "before-exchange" {
                throw TreeSwitch.ExchangeUnsupported(errno: EINVAL)
            }
        }
        try await t.sync(0)
        try t.expectTarget(0)
        // No generations directory at all (no spare was made in it), or one without spares.
        let generations = (try? generationNames(t)) ?? []
        #expect(generations.filter { $0.hasPrefix("spare") } == [], "\(generations)")
        #expect(!TestFiles.exists(SwitchLayout(target: t.target).stage), "the probe's stage was left")
        let outcome = try await t.sync(1)
        #expect(outcome.applied?.recycled != true, "the update recycled a spare it could not switch in")
        try t.expectTarget(1)
    }

    /// The probe on this file system, which exchanges: it says so and leaves no stage, so a cold sync leaves its
    /// spare and reserves as before (``theInPlacePathLeavesNoReserve()`` counts them).
    @Test func theProbeFindsTheExchangeHere() throws {
        let dir = try TemporaryDirectory(prefix: "probe")
        defer { dir.remove() }
        let layout = SwitchLayout(target: dir.appending("target"))
        mkdir(layout.sidecar, 0o700)
        var points: [String] = []
        #expect(TreeSwitch(layout: layout).exchangeWorks(checkpoint: { points.append($0) }))
        #expect(points == ["probe-exchange"])
        #expect(!TestFiles.exists(layout.stage))
    }
}
