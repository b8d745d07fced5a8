import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitProtocol
import SmartSyncTransfer
import TestSupport

/// A repository for the upload-pack tests, served by a real ``GitHTTPServer``.
///
/// `old` (branch `old`, tags `light` and annotated `v1.0`): 40 text files and a 300 KB incompressible `big.bin`;
/// `new` (branch `main`): 12 of the text files edited and one added, the 12-file update of DESIGN.md's benchmark.
struct UploadPackFixture {
    static let repository = "octo/demo"
    let repo: GitFixture
    let old: ObjectID
    let new: ObjectID
    let annotatedTag: ObjectID
    let bigBlob: ObjectID
    let directory: TemporaryDirectory

    init() throws {
        repo = try GitFixture(bare: true)
        directory = try TemporaryDirectory(prefix: "upload-pack")
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            seed ^= seed << 13
            seed ^= seed >> 7
            seed ^= seed << 17
            return seed
        }
        let words = ["alpha", "beta", "gamma", "delta", "nix", "flake", "module", "option", "service", "enable"]
        for i in 0..<40 {
            let lines = (0..<60).map { n in
                (0..<8).map { _ in words[Int(next() % UInt64(words.count))] }.joined(separator: " ") + " \(i).\(n)"
            }
            try repo.write("modules/m\(i).nix", lines.joined(separator: "\n") + "\n")
        }
        let big = (0..<300_000).map { _ in UInt8(truncatingIfNeeded: next()) }
        try repo.write("assets/big.bin", big)
        old = ObjectID(hex: try repo.commit("old"))!
        bigBlob = ObjectID(hex: try repo.revParse("HEAD:assets/big.bin"))!
        try repo.branch("old")
        try repo.tag("light")
        annotatedTag = ObjectID(hex: try repo.tag("v1.0", annotated: true, message: "release 1.0"))!
        for i in stride(from: 0, to: 36, by: 3) {
            let path = repo.workTree + "/modules/m\(i).nix"
            var text = try String(contentsOfFile: path, encoding: .utf8)
            text += "# edited in the update\n"
            try repo.write("modules/m\(i).nix", text)
        }
        try repo.write("modules/added.nix", "{ ... }: { services.added.enable = true; }\n")
        new = ObjectID(hex: try repo.commit("new"))!
        // For the dumb-HTTP path.
        try repo.git("update-server-info")
    }

    /// This repository behind the Python test server (its git listener, with fault injection).
    func fakeGitHub() throws -> FakeGitHub { try FakeGitHub(repos: [Self.repository: repo.path]) }

    /// This repository behind nginx and `git http-backend`.
    func gitHTTPServer() throws -> GitHTTPServer { try GitHTTPServer(repositories: [Self.repository: repo.path]) }

    /// A client for this repository at `url` (a server's), retrying `retries` times 50 ms apart and adding each
    /// notice to `notices`.
    static func client(
        _ url: String, engine: TransferEngine, authorization: String? = nil, retries: Int,
        notices: Locked<[String]>? = nil
    ) -> UploadPackClient {
        UploadPackClient(
            repositoryURL: url, engine: engine, authorization: authorization,
            retryPolicy: RetryPolicy(retries: retries, baseDelay: 0.05)
        ) { text in notices?.withLock { $0.append(text) } }
    }

    /// A real engine; `credentialHosts` may receive the token.
    static func engine(credentialHosts: Set<String> = []) throws -> TransferEngine {
        var configuration = TransferConfiguration()
        configuration.credentialHosts = credentialHosts
        configuration.stallTimeout = 30
        return try TransferEngine(configuration: configuration)
    }

    /// Indexes a spooled pack in a fresh bare repository (`git index-pack --stdin`); returns the repository and
    /// the ids `git verify-pack -v` lists.
    func indexPack(_ spool: String, fixThin: Bool = false, into repository: String? = nil) throws -> (
        String, Set<String>
    ) {
        let target = repository ?? directory.appending("index-\(UUID().uuidString).git")
        if repository == nil { try GitFixture.run(["init", "-q", "--bare", target]) }
        let pack = Array(try Data(contentsOf: URL(fileURLWithPath: spool)))
        let arguments = ["-C", target, "index-pack", "--stdin"] + (fixThin ? ["--fix-thin"] : [])
        let line = try GitFixture.run(arguments, input: pack).output
        let hash = line.split(separator: "\t").last.map(String.init) ?? line
        let verify = try GitFixture.run(["-C", target, "verify-pack", "-v", "objects/pack/pack-\(hash).idx"])
            .stdoutString
        let ids = verify.split(separator: "\n").compactMap { row -> String? in
            let id: String = String(row.prefix(40))
            return id.count == 40 && id.allSatisfy(\.isHexDigit) ? id : nil
        }
        return (target, Set(ids))
    }
}
