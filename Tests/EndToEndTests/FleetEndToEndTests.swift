import Foundation
import SmartSyncGitObjects
import TestSupport
import Testing

/// Issue 14 part 6: a fleet behind a real HTTP cache. A fixture repository is published (signed) into a directory
/// that nginx serves as the origin mirror; an nginx `proxy_cache` (with `proxy_cache_lock`) sits in front; 20 hosts,
/// each its own store, state and target, run the real `smart-sync` at once through the cache with `--trusted-key`.
/// The origin's access log proves the cache did its job (each immutable name served at most once), the targets are
/// compared with `git archive` byte for byte (modes and symlinks too).
@Suite("Fleet: publish, a cache, 20 hosts", .serialized)
struct FleetEndToEndTests {
    static let hosts = 20

    @Test(.enabled(if: Fleet.missing == nil, "\(Fleet.missing ?? "")"), .timeLimit(.minutes(3)))
    func fleetWarmsThroughACacheSyncsOfflineUpdatesAndFailsOver() throws {
        let fleet = try Fleet(hosts: Self.hosts)
        // Enough files for a cold store to take the commit's pack (the mirror client's rule: 64 blobs missing).
        for n in 0..<80 { try fleet.repo.write("generated/file-\(n).txt", "generated file \(n)\n") }
        let a = try Fixtures.commitA(fleet.repo)
        try fleet.publish()
        try fleet.startServers()

        // 1. Cold: every host warms main (pinning it) through the cache at once.
        let warmed = try fleet.runAll("warm", mirrors: [fleet.cacheURL], ["--ref", "main", "--pin"])
        try requireAll(warmed, "cold warm")
        let cold = fleet.originRequests()
        expectEachImmutableNameOnce(cold, "cold warm")
        #expect(cold.contains { $0.uri == "/packs/\(a).pack" && $0.status == 200 }, "the pack was not used: \(cold)")

        // 2. The network is down: every host syncs the warmed commit by its id from its store.
        fleet.stopServers()
        let offline = try fleet.runAll("sync", mirrors: [fleet.cacheURL], ["--ref", a])
        let wantA = try fleet.repo.archiveSnapshot(commit: a)
        try requireAll(offline, "offline sync")
        for run in offline {
            try expectTarget(fleet, host: run.host, equals: wantA, a)
        }

        // 3. An update: the hosts fetch only the new names, each from the origin once, through a fresh cache.
        let before = try fleet.mirrorFiles()
        let b = try Fixtures.commitB(fleet.repo)
        try fleet.publish()
        let added = try fleet.mirrorFiles().subtracting(before)
        try fleet.startServers()
        let updated = try fleet.runAll("sync", mirrors: [fleet.cacheURL], ["--ref", "main"])
        let wantB = try fleet.repo.archiveSnapshot(commit: b)
        try requireAll(updated, "update")
        for run in updated {
            try expectTarget(fleet, host: run.host, equals: wantB, b)
        }
        let update = fleet.originRequests()
        expectEachImmutableNameOnce(update, "update")
        let old = update.filter { $0.isImmutable && !added.contains(String($0.uri.dropFirst())) }
        #expect(old.isEmpty, "the update fetched names published before: \(old.map(\.uri))")
        // Per host, about the change: the new names' bytes (a pack of the new commit would be all of it).
        let addedBytes = try added.filter { !$0.hasPrefix("packs/") }.reduce(0) {
            $0 + (try FileManager.default.attributesOfItem(atPath: fleet.mirrorDirectory + "/" + $1)[.size] as! Int)
        }
        let packBytes = try added.filter { $0.hasPrefix("packs/") }.reduce(0) {
            $0 + (try FileManager.default.attributesOfItem(atPath: fleet.mirrorDirectory + "/" + $1)[.size] as! Int)
        }
        for run in updated {
            let received = try #require(run.bytesReceived, "no bytesReceived in host \(run.host)'s summary")
            #expect(
                received <= addedBytes + 8192,
                "host \(run.host) received \(received) B for a change of \(addedBytes) B (the new pack: \(packBytes) B)"
            )
        }

        // 4. A mirror listed first serves one corrupted object: the hosts fail over, nothing corrupt lands.
        try fleet.repo.write("modules/net/bridge.nix", "{ bridge = \"br-corrupt-test\"; }\n")
        try fleet.repo.write("modules/new.nix", "{ added = \"in C\"; }\n")
        let c = try fleet.repo.commit("C")
        let beforeC = try fleet.mirrorFiles()
        try fleet.publish()
        let corrupted = try #require(
            fleet.mirrorFiles().subtracting(beforeC).sorted().first { $0.hasPrefix("objects/") },
            "publish of C added no object")
        let bad = try TemporaryDirectory(prefix: "fleet-bad-mirror")
        try ProcessRunner.run("/bin/cp", ["-a", fleet.mirrorDirectory + "/.", bad.path])
        let badPath = bad.path + "/" + corrupted
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: badPath)
        let corruptBytes = Array("{ bridge = \"evil\"; }\n".utf8)
        try Data(corruptBytes).write(to: URL(fileURLWithPath: badPath))
        let badServer = try NginxServer(root: bad.path, tls: false, logFormat: FleetNginx.logFormat)
        defer { badServer.stop() }
        let failedOver = try fleet.runAll("sync", mirrors: [badServer.baseURL, fleet.cacheURL], ["--ref", "main"])
        let wantC = try fleet.repo.archiveSnapshot(commit: c)
        let id = try #require(
            ObjectID(
                hex: corrupted.replacingOccurrences(of: "objects/", with: "").replacingOccurrences(of: "/", with: "")))
        try requireAll(failedOver, "failover")
        for run in failedOver {
            try expectTarget(fleet, host: run.host, equals: wantC, c)
            let stored = fleet.host(run.host) + "/store/objects/" + id.hex.prefix(2) + "/" + id.hex.dropFirst(2)
            if let bytes = FileManager.default.contents(atPath: stored) {
                #expect(ObjectID.blob(Array(bytes)) == id, "host \(run.host) stored corrupt bytes for \(id)")
            }
        }
        #expect(badServer.accessLogLines().contains { $0.hasPrefix("/" + corrupted + " 200") },
            "no host asked the corrupt mirror for \(corrupted): failover was not exercised")
        expectEachImmutableNameOnce(fleet.originRequests(), "failover")
    }

    /// Every host succeeded; otherwise the test stops here, showing the first failure (the next phases build on it).
    private func requireAll(_ runs: [HostRun], _ phase: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let failed = runs.filter { !$0.termination.succeeded }
        try #require(
            failed.isEmpty, "\(phase): \(failed.count) of \(runs.count) hosts failed; first: \(failed.first!)",
            sourceLocation: sourceLocation)
    }

    private func expectEachImmutableNameOnce(_ requests: [FleetRequest], _ phase: String,
        sourceLocation: SourceLocation = #_sourceLocation)
    {
        var served: [String: Int] = [:]
        for r in requests where r.isImmutable && r.status == 200 { served[r.uri, default: 0] += 1 }
        let twice = served.filter { $0.value > 1 }
        #expect(
            twice.isEmpty, "\(phase): the origin served these more than once: \(twice)", sourceLocation: sourceLocation)
    }

    private func expectTarget(_ fleet: Fleet, host: Int, equals want: DirectorySnapshot, _ commit: String,
        sourceLocation: SourceLocation = #_sourceLocation) throws
    {
        let got = try DirectorySnapshot(of: fleet.host(host) + "/target")
        #expect(got == want, "host \(host)'s target differs from git archive \(commit):\n\(got.difference(from: want))",
            sourceLocation: sourceLocation)
    }
}
