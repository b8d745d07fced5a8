import Foundation
import TestSupport
import Testing

/// Names made durable before what trusts them: what `warm` reports or pins as warm (a pack's objects are named without
/// a sync of their own, ``ObjectBatch``, and no stage's sync follows a warm, so a power loss after the pin could keep
/// the pin and lose the names of what it pins: an offline sync of it then has nothing to place from), a kept local
/// version's record, and a stage's executable twins. Checked in the order of the system calls, as `strace -f` records
/// them (no crash needed: the order is the guarantee).
@Suite("names durable before what trusts them", .serialized)
struct WarmDurabilityEndToEndTests {
    /// The system calls of `smart-sync <command> …` that name an object, sync a file system, write a pin or open a
    /// file, in order (failed ones left out).
    private func calls(_ s: Scenario, _ extra: [String], command: String = "warm") throws -> [Substring] {
        let out = s.dirs.appending("strace-\(command)")
        let r = try ProcessRunner.run(
            "/usr/bin/strace",
            [
                "-f", "-e", "trace=syncfs,link,linkat,rename,renameat,renameat2,open,openat", "-o", out,
                try SmartSyncBinary.path(),
            ] + s.arguments(command, extra),
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
            let named = lastNamed(lines)
            let pinned = try #require(
                lines.firstIndex { $0.contains("rename") && $0.contains("/store/pins/") }, "\(round): no pin written")
            if round == "cold" { #expect(named != nil, "the pack's objects were not named by links: \(lines)") }
            let synced = lines.indices.filter { lines[$0].contains("syncfs(") }
            #expect(
                synced.contains { $0 > (named ?? -1) && $0 < pinned },
                "\(round): no syncfs between the last object named (\(named ?? -1)) and the pin (\(pinned)): \(lines)")
        }
    }

    /// A stage's executable twins (`….x`) are copied into the store's `tmp/` unsynced and renamed to their names after
    /// a sync: the stage's own where the store shares its file system (``TwinBatch/publish(synced:)`` then adds none).
    /// Each twin's rename follows a `syncfs` made after its copy was created.
    @Test func aTwinIsNamedAfterASyncOfItsCopy() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)  // scripts/menu.sh is executable
        let lines = try calls(s, ["--transport", "pack", "--link-mode", "hardlink", "--ref", a], command: "sync")
        let renames = lines.indices.filter { lines[$0].contains("rename") && lines[$0].contains(".x\"") }
        #expect(!renames.isEmpty, "no twin was named: \(lines)")
        for named in renames {
            // rename("<store>/tmp/<copy>", "<store>/objects/ab/….x"): the copy's path is the first argument.
            let copy = lines[named].split(separator: "\"").dropFirst().first.map(String.init) ?? ""
            let made = try #require(
                lines.firstIndex { $0.contains("open") && $0.contains("\"" + copy + "\"") && $0.contains("O_CREAT") },
                "the copy \(copy) was not created in this run")
            #expect(
                lines.indices.contains { lines[$0].contains("syncfs(") && $0 > made && $0 < named },
                "the twin was named (\(named)) with no syncfs since its copy was made (\(made))")
        }
        try s.expectTargetEqualsArchive(a)
    }

    /// The index of the last call that named an object: a link from the store's `tmp/` into `objects/` (not one
    /// from `objects/` into a stage).
    private func lastNamed(_ lines: [Substring]) -> Int? {
        lines.lastIndex { line in
            guard line.contains("link(") || line.contains("linkat("), let from = line.range(of: "/store/tmp/"),
                let to = line.range(of: "/store/objects/")
            else { return false }
            return from.lowerBound < to.lowerBound
        }
    }

    /// The other record that trusts an object's name: a kept local version. The operator's edit of a file the update
    /// replaces holds the bytes of a blob the update's own pack brings (named unsynced): found in the store, it was
    /// not saved again, and its record was written before any sync made that name durable (the stage's sync covers
    /// the store only on the target's file system).
    @Test func aKeptVersionIsRecordedAfterTheNamesAreDurable() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync(["--transport", "pack", "--ref", a])
        let b = try Fixtures.commitB(s.repo)  // brings modules/gpu.nix, "{ vfio = true; }"
        let edited = s.target + "/modules/net/bridge.nix"  // which B replaces
        try FileManager.default.removeItem(atPath: edited)
        try Data("{ vfio = true; }\n".utf8).write(to: URL(fileURLWithPath: edited))
        let lines = try calls(s, ["--transport", "pack", "--ref", b, "--json"], command: "sync")
        let named = try #require(lastNamed(lines), "the update's pack named no object")
        let recorded = try #require(
            lines.firstIndex { $0.contains("/kept\"") && $0.contains("O_APPEND") }, "no kept version recorded")
        #expect(
            lines.indices.contains { lines[$0].contains("syncfs(") && $0 > named && $0 < recorded },
            "no syncfs between the last object named (\(named)) and the kept version's record (\(recorded))")
        try s.expectTargetEqualsArchive(b)
    }
}
