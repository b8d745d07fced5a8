import Foundation
import TestSupport
import Testing

/// What a mirror says that no hash covers cannot fail a run the origin could serve: a listing's sizes; and the host's
/// own replay record fails closed when it cannot be read.
@Suite(.serialized) struct MirrorUntrustedInputEndToEndTests {
    /// Rewrites the size field of `path`'s entry in the mirror listing at `listing` to `size`.
    static func rewriteSize(_ listing: String, path: String, to size: String) throws {
        let bytes = try #require(TestFiles.readBytes(listing))
        var out: [UInt8] = []
        for entry in bytes.split(separator: 0, omittingEmptySubsequences: true) {
            let tab = try #require(entry.firstIndex(of: UInt8(ascii: "\t")))
            var fields = entry[entry.startIndex..<tab].split(separator: UInt8(ascii: " ")).map { Array($0) }
            if String(decoding: entry[(tab + 1)...], as: UTF8.self) == path { fields[3] = Array(size.utf8) }
            out += Array(fields.joined(separator: [0x20])) + Array(entry[tab...]) + [0]
        }
        try TestFiles.write(listing, bytes: out)
    }

    @Test(arguments: ["1", "99999999"]) func aListingThatLiesAboutASizeStillSyncs(size: String) throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        let tree = try setup.repo.revParse(a + "^{tree}")
        try Self.rewriteSize(MirrorLayout.path(setup.directory("m1"), "listings", tree), path: "README.md", to: size)
        let r = try setup.run(mirrors: ["m1"], ["--ref", "main"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
    }

    @Test func aNegativeSizeIsADamagedListing() throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        let tree = try setup.repo.revParse(a + "^{tree}")
        try Self.rewriteSize(MirrorLayout.path(setup.directory("m1"), "listings", tree), path: "README.md", to: "-1")
        let r = try setup.run(mirrors: ["m1"], ["--ref", "main", "-v"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(r.stderrString.contains("failed verification"), "\(r.stderrString)")
        #expect(try setup.scenario.apiRequests().contains { $0.path.contains("/git/trees/") }, "the origin listed")
    }

    @Test(arguments: [#"{"format":"smart-sync-accepted-refs","version":2}"#, #"{"format":"smart-sync-acc"#])
    func aDamagedReplayRecordRefusesRatherThanForgets(record: String) throws {
        let (setup, keys) = (try MirrorSetup(), try TrustedKeyEndToEndTests.Keys())
        let a = try Fixtures.commitA(setup.repo)
        let b = try Fixtures.commitB(setup.repo)
        let now = Int(Date().timeIntervalSince1970)
        try setup.publishSigned("m1", refs: ["main": a], published: now - 100, key: keys.key)
        try setup.publishSigned("m2", refs: ["main": b], published: now - 50, key: keys.key)
        let newer = try setup.run(mirrors: ["m2"], ["--trusted-key", keys.allowedSigners, "--ref", "main"])
        #expect(newer.status == 0, "\(newer.stderrString)")
        let state = setup.scenario.stateDir
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: state).first {
                $0.hasPrefix("mirror-refs-") && !$0.hasSuffix(".lock")
            })
        try TestFiles.write(state + "/" + name, record + "\n")
        let replay = try setup.run(
            mirrors: ["m1"], ["--trusted-key", keys.allowedSigners, "--ref", "main", "--allow-downgrade"])
        #expect(replay.status != 0, "the replay was accepted: \(replay.stderrString)")
        #expect(replay.stderrString.contains(name), "\(replay.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(b)
        #expect(TestFiles.read(state + "/" + name) == record + "\n", "the record was left for the operator")
    }
}

/// The signed pointer's times: one published in the future or not before its own expiry is refused (taking it
/// would make every later pointer look like a replay), and another pointer of the same second is a replay.
extension MirrorUntrustedInputEndToEndTests {
    @Test func aPointerFromTheFutureOrPastItsOwnExpiryIsRefused() throws {
        let (setup, keys) = (try MirrorSetup(), try TrustedKeyEndToEndTests.Keys())
        let a = try Fixtures.commitA(setup.repo)
        let now = Int(Date().timeIntervalSince1970)
        for (published, expires) in [(now + 3600, now + 7200), (now - 10, now - 10)] {
            try setup.publish("m1", refs: ["main": a], published: published, expires: expires, packs: false)
            try MirrorLayout.sign(setup.directory("m1"), key: keys.key)
            let r = try setup.run(mirrors: ["m1"], ["--trusted-key", keys.allowedSigners, "--ref", "main"])
            #expect(r.status != 0, "\(published)/\(expires) accepted: \(r.stderrString)")
        }
        #expect(!TestFiles.exists(setup.scenario.target), "nothing was synced")
    }

    @Test func anotherPointerOfTheSameSecondIsAReplayButTheSameOneIsNot() throws {
        let (setup, keys) = (try MirrorSetup(), try TrustedKeyEndToEndTests.Keys())
        let a = try Fixtures.commitA(setup.repo)
        let b = try Fixtures.commitB(setup.repo)
        let now = Int(Date().timeIntervalSince1970) - 60
        try setup.publishSigned("m1", refs: ["main": a], published: now, key: keys.key)
        try setup.publishSigned("m2", refs: ["main": b], published: now, key: keys.key)
        let args = ["--trusted-key", keys.allowedSigners, "--ref", "main"]
        #expect(try setup.run(mirrors: ["m1"], args).status == 0)
        #expect(try setup.run(mirrors: ["m1"], args).status == 0, "the same pointer again")
        let other = try setup.run(mirrors: ["m2"], args)
        #expect(other.status != 0, "\(other.stderrString)")
        #expect(other.stderrString.contains("replay"), "\(other.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
    }
}

/// Mirrors in order under `--trusted-key`: one behind (a replay of what was accepted) or without `refs.sig` is passed
/// over for the next.
extension MirrorUntrustedInputEndToEndTests {
    @Test func aStaleFirstMirrorOrOneWithoutASignatureIsPassedOverForTheNext() throws {
        let (setup, keys) = (try MirrorSetup(), try TrustedKeyEndToEndTests.Keys())
        let a = try Fixtures.commitA(setup.repo)
        let b = try Fixtures.commitB(setup.repo)
        let now = Int(Date().timeIntervalSince1970)
        try setup.publishSigned("stale", refs: ["main": a], published: now - 100, key: keys.key)
        try setup.publishSigned("fresh", refs: ["main": b], published: now - 50, key: keys.key)
        try setup.publish("unsigned", refs: ["main": b], published: now - 10, packs: false)
        let args = ["--trusted-key", keys.allowedSigners, "--ref", "main", "-v"]
        #expect(try setup.run(mirrors: ["fresh"], args).status == 0)
        let r = try setup.run(mirrors: ["unsigned", "stale", "fresh"], args)
        #expect(r.status == 0, "\(r.stderrString)")
        #expect(r.stderrString.contains("refs.sig"), "\(r.stderrString)")
        #expect(r.stderrString.contains("replay"), "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(b)
        #expect(try setup.scenario.server.requests().isEmpty)
    }
}

extension MirrorUntrustedInputEndToEndTests {
    /// The record is read, checked and written under `<record>.lock`: while another process holds it, a run waits
    /// (up to 10 s) and then refuses, rather than reading a record that may be about to move.
    @Test func theReplayRecordIsTakenUnderItsLock() throws {
        let (setup, keys) = (try MirrorSetup(), try TrustedKeyEndToEndTests.Keys())
        let a = try Fixtures.commitA(setup.repo)
        let now = Int(Date().timeIntervalSince1970)
        try setup.publishSigned("m1", refs: ["main": a], published: now - 60, key: keys.key)
        let args = ["--trusted-key", keys.allowedSigners, "--ref", "main"]
        #expect(try setup.run(mirrors: ["m1"], args).status == 0)
        let state = setup.scenario.stateDir
        let lock = try #require(
            try FileManager.default.contentsOfDirectory(atPath: state).first {
                $0.hasPrefix("mirror-refs-") && $0.hasSuffix(".lock")
            })
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        // Longer than a run waits (10 s); the lock is the sleep's (flock's child keeps the descriptor).
        holder.arguments = ["-x", state + "/" + lock, "sleep", "13"]
        try holder.run()
        defer { holder.waitUntilExit() }
        // flock has the lock once a non-blocking try from here fails.
        while (try? ProcessRunner.run("flock", ["-n", "-x", state + "/" + lock, "true"])) != nil { usleep(20_000) }
        let held = try setup.run(mirrors: ["m1"], args)
        #expect(held.status != 0, "\(held.stderrString)")
        #expect(held.stderrString.contains("accepted refs"), "\(held.stderrString)")
    }
}
