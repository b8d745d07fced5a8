import Foundation
import TestSupport
import Testing

/// What `warm` reports or pins as warm is durable first: a pack's objects are named without a sync of their own
/// (``ObjectBatch``), and no stage's sync follows a warm, so a power loss after the pin could keep the pin and lose the
/// names of what it pins (an offline sync of it then has nothing to place from). Checked in the order of the system
/// calls, as `strace -f` records them (no crash needed: the order is the guarantee).
@Suite("warm makes what it pins durable", .serialized)
struct WarmDurabilityEndToEndTests {
    /// The system calls of `smart-sync warm …` that name an object, sync a file system or write a pin, in order.
    private func calls(_ s: Scenario, _ extra: [String]) throws -> [Substring] {
        let out = s.dirs.appending("strace-warm")
        let r = try ProcessRunner.run(
            "/usr/bin/strace",
            ["-f", "-e", "trace=syncfs,link,linkat,rename,renameat,renameat2", "-o", out, try SmartSyncBinary.path()]
                + s.arguments("warm", extra),
            environment: s.environment(), check: false)
        try #require(r.status == 0, "\(r.stderrString)")
        return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").filter { !$0.contains(" = -1 ") }
    }

    /// `warm --pin` of a cold store over the pack transport: the listing's pack brings the commit's blobs, so nothing
    /// is left to fetch; warm skipped its sync then (it synced only when it fetched), and the pin was written over
    /// names no sync had made durable. Then `warm --pin` again, every object already there: it syncs before the pin
    /// all the same (names an earlier run left unsynced are made durable too).
    @Test func theNamesAreDurableBeforeThePinIsWritten() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        for round in ["cold", "warm"] {
            let lines = try calls(s, ["--transport", "pack", "--ref", a, "--pin"])
            let named = lines.lastIndex { $0.contains("/store/objects/") && ($0.contains("link(") || $0.contains("linkat(")) }
            let pinned = try #require(
                lines.firstIndex { $0.contains("rename") && $0.contains("/store/pins/") }, "\(round): no pin written")
            if round == "cold" { #expect(named != nil, "the pack's objects were not named by links: \(lines)") }
            let synced = lines.indices.filter { lines[$0].contains("syncfs(") }
            #expect(
                synced.contains { $0 > (named ?? -1) && $0 < pinned },
                "\(round): no syncfs between the last object named (\(named ?? -1)) and the pin (\(pinned)): \(lines)")
        }
    }
}
