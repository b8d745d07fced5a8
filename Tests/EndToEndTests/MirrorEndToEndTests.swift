import Foundation
import TestSupport
import Testing

/// `--mirror`: listings and blobs from static mirrors (docs/MIRROR.md's layout, served by a real nginx), the origin
/// resolving the ref and serving only what no mirror could.
@Suite(.serialized) struct MirrorEndToEndTests {
    @Test func syncFromAMirrorEqualsTheTreeWithNoBlobRequestToTheOrigin() throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        let r = try setup.run(mirrors: ["m1"], ["--ref", "main", "--json", "-v"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(try setup.originBlobRequests().isEmpty)
        // The origin resolved the ref and listed nothing: the tree came from the mirror.
        #expect(try setup.scenario.apiRequests().allSatisfy { !$0.path.contains("/git/trees/") })
        #expect(!setup.objectRequests("m1").isEmpty)
        #expect(setup.requests("m1").contains { $0.hasPrefix("/m1/listings/") })
        #expect(r.stderrString.contains("from mirror \(setup.url("m1"))"))
        // The summary's API requests are the origin's alone (the mirror's commit and listing are not API requests).
        let requests = try #require(try Scenario.summary(r)["requests"] as? [String: Any])
        #expect(requests["apiRequests"] as? Int == (try setup.scenario.apiRequests().count), "\(requests)")
    }

    @Test func withPacksAtTheOriginTheMirrorStillServesTheTree() throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        let r = try setup.run(mirrors: ["m1"], ["--ref", "main", "--transport", "auto", "--json"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        // The git host resolved the ref (one ls-refs POST) and was asked for no pack (a second POST); no blob from the
        // origin either.
        let posts = try setup.scenario.server.requests().filter { $0.listener == "git" && $0.method == "POST" }
        #expect(posts.count == 1)
        #expect(try setup.originBlobRequests().isEmpty)
        #expect(try Scenario.summary(r)["transport"] as? String == "mirror")
    }

    @Test func warmFillsTheStoreFromAMirror() throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        let warm = try setup.run("warm", mirrors: ["m1"], ["--ref", "main"])
        #expect(warm.status == 0, "\(warm.stderrString)")
        #expect(try setup.originBlobRequests().isEmpty)
        let objects = setup.objectRequests("m1").count
        #expect(objects > 0)
        // The sync after it needs no blob from anywhere.
        let r = try setup.run(mirrors: ["m1"], ["--ref", "main"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(setup.objectRequests("m1").count == objects)
        #expect(try setup.originBlobRequests().isEmpty)
    }

    @Test func aBlobAMirrorLacksComesFromTheNextMirrorThenTheOrigin() throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        try setup.publish("m2", refs: ["main": a], packs: false)
        let readme = try setup.repo.git("rev-parse", "\(a):README.md")
        let flake = try setup.repo.git("rev-parse", "\(a):flake.nix")
        // m1 lacks both; m2 lacks flake.nix, which only the origin has.
        for (mirror, id) in [("m1", readme), ("m1", flake), ("m2", flake)] {
            try FileManager.default.removeItem(atPath: MirrorLayout.path(setup.directory(mirror), "objects", id))
        }
        let r = try setup.run(mirrors: ["m1", "m2"], ["--ref", "main", "-v", "--json"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(setup.objectRequests("m2").count == 2)
        #expect(setup.objectRequests("m2").contains { $0.contains(readme.dropFirst(2)) && $0.contains(" 200 ") })
        let origin = try setup.originBlobRequests()
        #expect(origin.count == 1)
        #expect(origin.first?.path.hasSuffix("/flake.nix") == true)
        #expect(r.stderrString.contains("lacks"))
        // Every blob is counted, whichever source stored it.
        #expect(try Scenario.summary(r)["blobsFetched"] as? Int == 13)
    }

    @Test func aMirrorThatLackedOneBlobStillServesTheNextRefOfAWarm() throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        let b = try Fixtures.commitB(setup.repo)
        try setup.publish("m1", refs: ["a": a, "b": b], packs: false)
        let readme = try setup.repo.git("rev-parse", "\(a):README.md")
        try FileManager.default.removeItem(atPath: MirrorLayout.path(setup.directory("m1"), "objects", readme))
        let r = try setup.run("warm", mirrors: ["m1"], ["--ref", a, "--ref", b, "-v"])
        #expect(r.status == 0, "\(r.stderrString)")
        // Only README.md came from the origin; B's new blobs and listing from the mirror again.
        #expect(try setup.originBlobRequests().map(\.path) == ["/acme/hyper/\(a)/README.md"])
        let gpu = try setup.repo.git("rev-parse", "\(b):modules/gpu.nix")
        #expect(setup.objectRequests("m1").contains { $0.contains(gpu.dropFirst(2)) && $0.contains(" 200 ") })
        #expect(setup.requests("m1").count { $0.hasPrefix("/m1/listings/") } == 2)
        #expect(r.stderrString.contains("for this call"))
    }

    @Test func aCorruptedObjectOrListingIsFetchedElsewhereAndNothingCorruptLands() throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        try setup.publish("m2", refs: ["main": a], packs: false)
        let readme = try setup.repo.git("rev-parse", "\(a):README.md")
        // m1 serves README.md altered and a listing with one id changed; m2 lacks README.md.
        // (The same size: only the hash tells.)
        try TestFiles.write(MirrorLayout.path(setup.directory("m1"), "objects", readme), "# evil!\n")
        let tree = try setup.repo.revParse(a + "^{tree}")
        let listing = MirrorLayout.path(setup.directory("m1"), "listings", tree)
        var bytes = try #require(TestFiles.readBytes(listing))
        let index = try #require(bytes.firstIndex(of: UInt8(ascii: "\t"))) - 20
        bytes[index] = bytes[index] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        try TestFiles.write(listing, bytes: bytes)
        try FileManager.default.removeItem(atPath: MirrorLayout.path(setup.directory("m2"), "objects", readme))

        let r = try setup.run(mirrors: ["m1", "m2"], ["--ref", "main", "-v"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        // The listing came from m2; the blobs from m1 again (left for the listing only), but for README.md: damaged
        // twice at m1, missing at m2, taken from the origin.
        #expect(setup.requests("m2").contains { $0.hasPrefix("/m2/listings/") && $0.contains(" 200 ") })
        #expect(setup.objectRequests("m1").count { $0.contains(readme.dropFirst(2)) } == 2)
        #expect(setup.objectRequests("m2").count == 1)
        #expect(try setup.originBlobRequests().map(\.path) == ["/acme/hyper/\(a)/README.md"])
        #expect(r.stderrString.contains("fails verification"))
        let verify = try setup.scenario.run("verify")
        #expect(verify.status == 0, "\(verify.stderrString)")
    }

    @Test func aMirrorThatIsDownLeavesTheRunToTheOrigin() throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        let down = "http://127.0.0.1:\(try Self.closedPort())/m1"
        let r = try setup.scenario.run(
            "sync", ["--mirror", down, "--retries", "0", "--ref", "main", "--json", "-v"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(try !setup.originBlobRequests().isEmpty)
        #expect(r.stderrString.contains("a mirror is down"))
    }

    @Test func aColdSyncTakesThePackAndAnUpdateTakesObjects() throws {
        let setup = try MirrorSetup()
        for i in 0..<80 { try setup.repo.write("files/f\(i).txt", "file \(i)\n") }
        let a = try setup.repo.commit("A")
        try setup.repo.write("files/f1.txt", "changed\n")
        let b = try setup.repo.commit("B")
        try setup.publish("m1", refs: ["main": a], packs: true)
        try setup.publish("m1", refs: ["main": b], packs: true)
        let cold = try setup.run(mirrors: ["m1"], ["--ref", a])
        #expect(cold.status == 0, "\(cold.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(setup.requests("m1").contains { $0.hasPrefix("/m1/packs/\(a).pack 200") })
        #expect(setup.objectRequests("m1").isEmpty)
        let update = try setup.run(mirrors: ["m1"], ["--ref", b])
        #expect(update.status == 0, "\(update.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(b)
        #expect(!setup.requests("m1").contains { $0.hasPrefix("/m1/packs/\(b).pack") })
        #expect(setup.objectRequests("m1").count == 1)
        #expect(try setup.originBlobRequests().isEmpty)
    }

    @Test func aMirrorWithoutPacksServesAColdSyncObjectByObject() throws {
        let setup = try MirrorSetup()
        for i in 0..<70 { try setup.repo.write("files/f\(i).txt", "file \(i)\n") }
        let a = try setup.repo.commit("A")
        try setup.publish("m1", refs: ["main": a], packs: false)
        let r = try setup.run(mirrors: ["m1"], ["--ref", "main"])
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(setup.requests("m1").contains { $0.hasPrefix("/m1/packs/\(a).pack 404") })
        #expect(setup.objectRequests("m1").count == 70)
    }

    @Test func theTokenNeverReachesAMirrorOnTheOriginsHost() throws {
        let setup = try MirrorSetup()
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        try setup.publishRaw(a)
        let readme = try setup.repo.git("rev-parse", "\(a):README.md")
        try FileManager.default.removeItem(atPath: MirrorLayout.path(setup.directory("m1"), "objects", readme))
        // The raw host is the mirror's nginx: one host, so the engine's credential hosts include the mirror's.
        let r = try setup.run(mirrors: ["m1"], ["--ref", "main"], rawURL: setup.url("raw"), token: "ghp_mirrorsecret")
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        let mirror = setup.requests("m1")
        #expect(!mirror.isEmpty)
        #expect(mirror.allSatisfy { $0.hasSuffix("auth=-") }, "\(mirror)")
        // The origin's path on the same host did get it: the capture works.
        let raw = setup.requests("raw")
        #expect(raw.count == 1)
        #expect(raw.allSatisfy { $0.contains("ghp_mirrorsecret") })
    }

    /// A mirror that redirects its objects to a path of the raw host (one host:port, a credential host): the
    /// redirected requests carry no token either, as no mirror request ever has one to send.
    @Test func aMirrorsRedirectToTheOriginsHostCarriesNoToken() throws {
        let setup = try MirrorSetup(
            serverConfig: "location /m1/objects/ { rewrite ^/m1/objects/(.*)$ /raw/mirror-objects/$1 redirect; }")
        let a = try Fixtures.commitA(setup.repo)
        try setup.publish("m1", refs: ["main": a], packs: false)
        try setup.publishRaw(a)
        let readme = try setup.repo.git("rev-parse", "\(a):README.md")
        try FileManager.default.removeItem(atPath: MirrorLayout.path(setup.directory("m1"), "objects", readme))
        try ProcessRunner.run("cp", ["-r", setup.directory("m1") + "/objects", setup.directory("raw/mirror-objects")])
        let r = try setup.run(mirrors: ["m1"], ["--ref", "main"], rawURL: setup.url("raw"), token: "ghp_mirrorsecret")
        #expect(r.status == 0, "\(r.stderrString)")
        try setup.scenario.expectTargetEqualsArchive(a)
        #expect(setup.objectRequests("m1").allSatisfy { $0.contains(" 302 ") })
        let redirected = setup.requests("raw").filter { $0.hasPrefix("/raw/mirror-objects/") }
        #expect(redirected.count == setup.objectRequests("m1").count, "\(redirected)")
        #expect(!redirected.isEmpty && redirected.allSatisfy { $0.hasSuffix("auth=-") }, "\(redirected)")
        // The origin's own path on that host did get it: the capture works.
        let origin = setup.requests("raw").filter { !$0.hasPrefix("/raw/mirror-objects/") }
        #expect(origin.count == 1 && origin.allSatisfy { $0.contains("ghp_mirrorsecret") }, "\(origin)")
    }

    /// A port nothing listens on.
    static func closedPort() throws -> Int {
        let server = try NginxServer(tls: false)
        let port = server.port
        server.stop()
        return port
    }
}
