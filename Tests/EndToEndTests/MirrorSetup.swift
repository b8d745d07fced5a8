import Foundation
import TestSupport
import Testing

/// A ``Scenario`` (the fake GitHub as the origin) plus one nginx serving mirror directories (`/m1`, `/m2`, … built
/// with ``MirrorLayout``) and, under `/raw`, a raw host's `{owner}/{repo}/{commit}/{path}` files: one host name for
/// mirrors and origin, so a test can check the token reaches the origin's paths and never a mirror's. nginx logs each
/// request's URI, status and `Authorization` header.
final class MirrorSetup: @unchecked Sendable {
    let scenario: Scenario
    let nginx: NginxServer
    var repo: GitFixture { scenario.repo }

    /// - Parameter serverConfig: more of nginx's server block (redirects, for instance).
    init(repo: GitFixture? = nil, serverConfig: String = "") throws {
        scenario = try Scenario(repo: repo)
        nginx = try NginxServer(
            serverConfig: serverConfig, tls: false, logFormat: "$request_uri $status auth=$http_authorization")
    }

    /// `http://127.0.0.1:PORT/NAME`.
    func url(_ name: String) -> String { nginx.baseURL + "/" + name }
    /// The directory nginx serves as `/NAME`.
    func directory(_ name: String) -> String { nginx.root + "/" + name }

    /// Publishes `commits` (ref name → commit) into mirror `name`.
    func publish(
        _ name: String, refs: [String: String], head: String = "main", published: Int? = nil, expires: Int? = nil,
        packs: Bool = true
    ) throws {
        try MirrorLayout.publish(
            repo, refs: refs, head: head, to: directory(name), repository: scenario.slug, published: published,
            expires: expires, packs: packs)
    }

    /// Publishes `refs` into mirror `name` (no packs) at `published`, and signs its `refs` with the private `key`.
    func publishSigned(_ name: String, refs: [String: String], published: Int, key: String) throws {
        try publish(name, refs: refs, published: published, packs: false)
        try MirrorLayout.sign(directory(name), key: key)
    }

    /// Lays out `commit` as the raw host serves it, under `/raw/acme/hyper/<commit>/`.
    func publishRaw(_ commit: String) throws {
        try repo.archive(commit: commit, into: directory("raw/" + scenario.slug + "/" + commit))
    }

    /// nginx's log lines for paths under `/NAME/` (NAME: a mirror, or `raw`).
    func requests(_ name: String) -> [String] {
        nginx.accessLogLines().filter { $0.hasPrefix("/" + name + "/") }
    }

    /// Requests for blobs (`/NAME/objects/…`) of mirror `name`.
    func objectRequests(_ name: String) -> [String] { requests(name).filter { $0.hasPrefix("/\(name)/objects/") } }

    /// Runs `sync` (or another command) with `mirrors` before the origin, per-blob origin (`--transport raw`).
    @discardableResult
    func run(
        _ command: String = "sync", mirrors: [String], _ extra: [String] = [], rawURL: String? = nil,
        token: String? = nil, environment: [String: String?] = [:]
    ) throws -> ProcessResult {
        try scenario.run(
            command, mirrors.flatMap { ["--mirror", url($0)] } + ["--retries", "1"] + extra, rawURL: rawURL,
            token: token, environment: environment)
    }

    /// The origin's blob downloads (raw host and blobs API) logged by the fake GitHub.
    func originBlobRequests() throws -> [LoggedRequest] {
        try scenario.server.requests().filter { $0.listener == "raw" || $0.path.contains("/git/blobs/") }
    }
}
