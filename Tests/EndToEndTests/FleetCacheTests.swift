import Foundation
import SmartSyncCore
import TestSupport
import Testing

/// The cache of the fleet test on its own (docs/MIRROR.md "Behind a cache"): 20 clients asking for one immutable
/// name at once reach the origin once (`proxy_cache_lock`), also when the origin is slow to answer, and `refs`,
/// which changes, is passed through every time, or, micro-cached, reaches the origin once too.
@Suite("Fleet: the nginx cache in front of a mirror")
struct FleetCacheTests {
    @Test(.enabled(if: NginxServer.isAvailable, "needs nginx"))
    func concurrentMissesOfOneNameReachTheOriginOnce() throws {
        let fleet = try Fleet(hosts: 0)
        let big = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try TestFiles.write(fleet.mirrorDirectory + "/packs/abc.pack", bytes: big)
        try TestFiles.write(fleet.mirrorDirectory + "/objects/ab/cdef", bytes: Array("blob\n".utf8))
        try TestFiles.write(fleet.mirrorDirectory + "/refs", bytes: Array("{\"v\":1}\n".utf8))
        // A slow origin (1.5 s for the pack): the clients' misses overlap, as on a real uplink.
        try fleet.startServers(originConfig: "limit_rate 2m;")
        let urls = ["packs/abc.pack", "objects/ab/cdef", "refs"].map { fleet.cacheURL + "/" + $0 }
        // 20 clients, each asking for all three names (the pack with a Range, as a resuming client does).
        let clients = try (0..<20).map { n in try Self.curl(urls, firstRange: "\(n * 1000)-") }
        for client in clients { #expect(client.wait().succeeded) }
        let served = fleet.originRequests()
        #expect(served.filter { $0.uri == "/packs/abc.pack" }.map(\.status) == [200], "\(served)")
        #expect(served.filter { $0.uri == "/objects/ab/cdef" }.map(\.status) == [200], "\(served)")
        #expect(served.filter { $0.uri == "/refs" }.count == 20, "\(served)")
        #expect(served.first { $0.uri == "/packs/abc.pack" }?.bytes == big.count)
    }

    /// docs/MIRROR.md's micro-cache of `refs` and `refs.sig`: 20 clients asking for both at once reach the origin
    /// once for each, although the origin sends them with `no-cache` (which the cache must ignore).
    @Test(.enabled(if: NginxServer.isAvailable, "needs nginx"))
    func microCachedRefsReachTheOriginOnce() throws {
        let fleet = try Fleet(hosts: 0)
        try TestFiles.write(fleet.mirrorDirectory + "/refs", "{\"v\":1}\n")
        try TestFiles.write(fleet.mirrorDirectory + "/refs.sig", "-----BEGIN SSH SIGNATURE-----\n")
        try fleet.startServers(refsCache: 60)
        let urls = ["refs", "refs.sig"].map { fleet.cacheURL + "/" + $0 }
        let clients = try (0..<20).map { _ in try Self.curl(urls) }
        for client in clients { #expect(client.wait().succeeded) }
        let served = fleet.originRequests()
        #expect(served.filter { $0.uri == "/refs" }.map(\.status) == [200], "\(served)")
        #expect(served.filter { $0.uri == "/refs.sig" }.map(\.status) == [200], "\(served)")
        #expect(served.count == 2, "\(served)")
    }

    /// curl fetching `urls` one after the other on one connection (the first with `firstRange`), output discarded.
    static func curl(_ urls: [String], firstRange: String? = nil) throws -> ChildProcess {
        let range = firstRange.map { ["-r", $0] } ?? []
        return try ProcessRunner(
            "/usr/bin/curl",
            ["--noproxy", "*", "-sSf"] + range + ["-o", "/dev/null", urls[0]]
                + urls.dropFirst().flatMap { ["--next", "--noproxy", "*", "-sSf", "-o", "/dev/null", $0] },
            environment: ChildEnvironment.current
        ).start()
    }
}
