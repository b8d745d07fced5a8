import Foundation
import SmartSyncCore
import SmartSyncGitObjects
@testable import SmartSyncGitProtocol
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// ``UploadPackClient`` against real `git http-backend` behind nginx (``GitHTTPServer``), with a real engine.
@Suite(.serialized)
struct UploadPackClientTests {
    let fixture: UploadPackFixture
    let server: GitHTTPServer

    init() throws {
        fixture = try UploadPackFixture()
        server = try GitHTTPServer(repositories: [UploadPackFixture.repository: fixture.repo.path])
    }

    func client(_ engine: TransferEngine, token: GitHubToken? = nil) -> UploadPackClient {
        UploadPackClient(
            repositoryURL: server.url(UploadPackFixture.repository), engine: engine, authorization: token?.basicAuthorizationForGit,
            retryPolicy: RetryPolicy(retries: 1, baseDelay: 0.05))
    }

    @Test func capabilitiesAreParsedAndAskedOnce() async throws {
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let client = client(engine)
        let capabilities = try await client.capabilities()
        #expect(capabilities.supportsFetch)
        #expect(capabilities.supportsShallow)
        #expect(capabilities.supportsFilter)
        #expect(capabilities.lsRefs != nil)
        #expect(capabilities.agent?.hasPrefix("git/") == true)
        #expect(capabilities.objectFormat == nil || capabilities.objectFormat == "sha1")
        #expect(try await client.capabilities() == capabilities)
        #expect(client.statistics.requests == 1)
        let logged = server.requests(atLeast: 1)
        #expect(logged.count == 1)
        #expect(logged.first?.uri == "/octo/demo.git/info/refs?service=git-upload-pack")
        #expect(logged.first?.gitProtocol == "version=2")

        // Cached between runs: no request at all.
        let cached = UploadPackClient(
            repositoryURL: server.url(UploadPackFixture.repository), engine: engine, authorization: nil,
            cachedCapabilities: capabilities)
        _ = try await cached.lsRefs(prefixes: ["refs/heads/main"])
        #expect(cached.statistics.requests == 1)
    }

    @Test func aServerWithoutProtocolV2IsNamedSo() async throws {
        let v0 = try GitHTTPServer(
            repositories: [UploadPackFixture.repository: fixture.repo.path], protocolV2: false)
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        for url in [v0.url(UploadPackFixture.repository), server.baseURL + "/dumb/octo/demo.git"] {
            let client = UploadPackClient(repositoryURL: url, engine: engine, authorization: nil)
            let error = await #expect(throws: SmartSyncError.self) { try await client.capabilities() }
            #expect(error?.code == .sourceUnavailable, "\(url)")
            #expect(error?.message.contains("does not speak git") == true, "\(error?.message ?? "")")
        }
    }

    @Test func advertisementsWithAndWithoutTheServicePreambleParse() throws {
        var v2: [UInt8] = []
        v2 += PktLine.encode("version 2\n") + PktLine.encode("agent=x/1\n") + PktLine.encode("ls-refs=unborn\n")
        v2 += PktLine.encode("fetch=shallow filter\n") + PktLine.encode("server-option\n")
        v2 += PktLine.encode("object-format=sha1\n") + PktLine.encode("object-info\n") + PktLine.flush
        let preamble = PktLine.encode("# service=git-upload-pack\n") + PktLine.flush
        let bare = try UploadPackCapabilities.parse(advertisement: v2, url: "u")
        #expect(try UploadPackCapabilities.parse(advertisement: preamble + v2, url: "u") == bare)
        #expect(bare.agent == "x/1")
        #expect(bare.lsRefs == ["unborn"])
        #expect(bare.fetch == ["shallow", "filter"])
        #expect(bare.serverOption)
        #expect(bare.other == ["object-info"])

        let v0 = preamble + PktLine.encode("\(ObjectID.emptyTree.hex) HEAD\0multi_ack side-band-64k\n") + PktLine.flush
        let error = #expect(throws: SmartSyncError.self) {
            try UploadPackCapabilities.parse(advertisement: v0, url: "u")
        }
        #expect(error?.code == .sourceUnavailable)
        #expect(error?.message.contains("does not speak git protocol v2") == true)

        var sha256 = bare
        sha256.objectFormat = "sha256"
        #expect(throws: SmartSyncError.self) { try sha256.check(command: "fetch", url: "u") }
    }

    @Test func lsRefsListsBranchesTagsPeeledAndHEAD() async throws {
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let refs = try await client(engine).lsRefs(prefixes: ["HEAD", "refs/heads/", "refs/tags/"])
        let byName = Dictionary(uniqueKeysWithValues: refs.map { ($0.name, $0) })
        #expect(byName["refs/heads/main"]?.id == fixture.new)
        #expect(byName["refs/heads/old"]?.id == fixture.old)
        #expect(byName["refs/tags/light"] == RemoteRef(name: "refs/tags/light", id: fixture.old))
        #expect(byName["refs/tags/v1.0"]?.id == fixture.annotatedTag)
        #expect(byName["refs/tags/v1.0"]?.peeled == fixture.old)
        #expect(byName["HEAD"]?.id == fixture.new)
        #expect(byName["HEAD"]?.symrefTarget == "refs/heads/main")

        let only = try await client(engine).lsRefs(prefixes: ["refs/tags/v1"])
        #expect(only.map(\.name) == ["refs/tags/v1.0"])
    }

    @Test func aColdShallowFetchSpoolsAPackGitAccepts() async throws {
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let spool = fixture.directory.appending("cold.pack")
        let response = try await client(engine).fetch(PackRequest(wants: [fixture.new], deepen: 1), spoolTo: spool)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: spool))
        #expect(bytes.prefix(4) == Data("PACK".utf8))
        #expect(bytes.count == response.packBytes)
        #expect(response.shallow == [fixture.new])
        #expect(response.responseBytes > response.packBytes)
        #expect(response.requestBytes > 0)
        let (_, ids) = try fixture.indexPack(spool)
        #expect(ids.contains(fixture.new.hex))
        #expect(ids.contains(fixture.bigBlob.hex))
        #expect(!ids.contains(fixture.old.hex))
    }

    @Test func anIncrementalThinFetchIsSmallAndCompletesInTheOldClone() async throws {
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let client = client(engine)
        let cold = try await client.fetch(
            PackRequest(wants: [fixture.new], deepen: 1), spoolTo: fixture.directory.appending("cold.pack"))
        let spool = fixture.directory.appending("thin.pack")
        let thin = try await client.fetch(
            PackRequest(wants: [fixture.new], haves: [fixture.old], shallows: [fixture.old], deepen: 1),
            spoolTo: spool)
        print("upload-pack: cold pack \(cold.packBytes) bytes, incremental thin pack \(thin.packBytes) bytes")
        #expect(thin.packBytes * 10 < cold.packBytes)
        #expect(thin.shallow == [fixture.new])

        // A shallow clone of the old commit completes the thin pack.
        let clone = fixture.directory.appending("old-clone.git")
        try UploadPackFixture.git(["init", "-q", "--bare", clone])
        try UploadPackFixture.git([
            "-C", clone, "fetch", "-q", "--depth", "1", server.url("octo/demo"), fixture.old.hex,
        ])
        let (_, ids) = try fixture.indexPack(spool, fixThin: true, into: clone)
        #expect(ids.contains(fixture.new.hex))
        #expect(!ids.contains(fixture.bigBlob.hex))
        let tree = try UploadPackFixture.git(["-C", clone, "ls-tree", "-r", fixture.new.hex]).output
        #expect(tree.contains("modules/added.nix"))
        #expect(tree.contains(fixture.bigBlob.hex))
    }

    @Test func aBlobLimitFilterLeavesTheLargeBlobOut() async throws {
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        var request = PackRequest(wants: [fixture.new], deepen: 1, filter: "blob:limit=100000")
        request.thinPack = false
        let spool = fixture.directory.appending("filtered.pack")
        let response = try await client(engine).fetch(request, spoolTo: spool)
        let (_, ids) = try fixture.indexPack(spool)
        #expect(ids.contains(fixture.new.hex))
        #expect(!ids.contains(fixture.bigBlob.hex))
        let small = try fixture.repo.revParse("\(fixture.new.hex):modules/added.nix")
        #expect(ids.contains(small))
        #expect(response.packBytes < 300_000)
    }

    @Test func anUnknownWantFailsWithTheServersMessage() async throws {
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let unknown = ObjectID(hex: String(repeating: "ab", count: 20))!
        let spool = fixture.directory.appending("unknown.pack")
        let error = await #expect(throws: SmartSyncError.self) {
            try await client(engine).fetch(PackRequest(wants: [unknown], deepen: 1), spoolTo: spool)
        }
        #expect(error?.message.contains(unknown.hex) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("not our ref") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(server.url("octo/demo")) == true)
    }

    @Test func fetchRefusesWhatTheServerDoesNotOffer() async throws {
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        var request = PackRequest(wants: [fixture.new])
        request.wantRefs = ["refs/heads/main"]
        let error = await #expect(throws: SmartSyncError.self) {
            try await client(engine).fetch(request, spoolTo: fixture.directory.appending("x.pack"))
        }
        #expect(error?.message.contains("ref-in-want") == true)
    }

    @Test func wantRefResolvesAndFetchesInOneRequest() async throws {
        let refInWant = try GitHTTPServer(
            repositories: [UploadPackFixture.repository: fixture.repo.path],
            gitConfig: [("uploadpack.allowRefInWant", "true")])
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let client = UploadPackClient(
            repositoryURL: refInWant.url(UploadPackFixture.repository), engine: engine, authorization: nil)
        var request = PackRequest(wants: [], deepen: 1)
        request.wantRefs = ["refs/heads/main"]
        let response = try await client.fetch(request, spoolTo: fixture.directory.appending("ref.pack"))
        #expect(response.wantedRefs == ["refs/heads/main": fixture.new])
        #expect(response.shallow == [fixture.new])
        #expect(client.statistics.requests == 2)
    }
}
