import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import Synchronization

/// The fallback source: a shallow fetch (`git fetch --depth 1`) of `{git-url}/{owner}/{repo}.git` into a
/// temporary bare repository, read through ``LocalGitSource``, so its blobs reach the store by the same verified
/// path as every other source's.
///
/// Used when the REST API is unreachable, over quota, or skipped (`--force-full`). The temporary repository lives
/// under the store (`<store>/tmp/clone-…`, one filesystem with the objects) and is removed by ``close()``.
///
/// The token, when there is one, never appears on a command line or in a URL: it reaches git through
/// `GIT_CONFIG_COUNT` as an `http.<git-url>/.extraHeader`, so git sends it to the git host only; redirects are
/// not followed while it is set, no credential helper or prompt is consulted.
public final class ShallowCloneSource: SyncSource {
    /// `{git-url}/{owner}/{repo}.git`, never with credentials.
    public let remoteURL: String
    private let gitURL: String
    private let token: GitHubToken?
    private let temporaryRoot: String
    private let stallTimeout: Double
    private let extraCAFile: String?
    private let state = Mutex(CloneState())

    private struct CloneState {
        var directory: String?
        var local: LocalGitSource?
        var stats = SourceStatistics()
        var closed = false
    }

    public var displayName: String { "clone:" + remoteURL }
    public var transport: String { "clone" }
    public var statistics: SourceStatistics { state.withLock { $0.stats } }
    /// The temporary repository once a fetch made it.
    var cloned: LocalGitSource? { state.withLock { $0.local } }

    /// - Parameters:
    ///   - gitURL: the git host's root (`--git-url`, e.g. `https://github.com`); `{owner}/{repo}.git` is appended.
    ///   - token: sent to the git host only, as an `Authorization` header.
    ///   - temporaryDirectory: where the temporary repository is made (the store's `tmp/`).
    ///   - stallTimeout: seconds below 1 byte/s before git gives up (`http.lowSpeedTime`).
    ///   - extraCAFile: PEM certificates trusted in addition to the system's (`--cacert`).
    public init(
        gitURL: String, owner: String, repository: String, token: GitHubToken?, temporaryDirectory: String,
        stallTimeout: Double = 30, extraCAFile: String? = nil
    ) {
        var base = gitURL
        while base.hasSuffix("/") { base.removeLast() }
        self.gitURL = base
        remoteURL = base + "/" + URLPath.encodeSegment(owner) + "/" + URLPath.encodeSegment(repository) + ".git"
        self.token = token
        temporaryRoot = temporaryDirectory
        self.stallTimeout = stallTimeout
        self.extraCAFile = extraCAFile
    }

    // MARK: - SyncSource

    /// ``RefName``'s rule: a name is looked up with `git ls-remote` (the candidates' full names) and the chosen full
    /// ref is fetched, so the clone picks what the API and the pack transport pick; `HEAD` and a full SHA are fetched
    /// as they are. The fallback cannot expand a short SHA.
    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        let name = try RefName(ref)
        var what = name.text
        switch name.kind {
        case .head: what = "HEAD"
        case .commit(let id): what = id.hex
        case .fullName, .shortName:
            let advertised = try await listRemote(name.candidates, for: name.text)
            switch try name.match(in: advertised, source: remoteURL) {
            case .ref(let full): what = full
            case .abbreviatedCommit:
                throw SmartSyncError(
                    .notFound,
                    "'\(name.text)' is not a branch or tag of \(remoteURL), and the shallow-clone fallback cannot resolve a short SHA",
                    hint: "give the full 40-character commit SHA or a branch/tag name"
                )
            }
        }
        let local = try await fetch(what, forRef: name.text)
        return try await local.commit(of: "FETCH_HEAD", shownAs: name.text)
    }

    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        try await ensure(ref).listing(for: ref)
    }

    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws -> FetchReport
    {
        try await ensure(ref).fetch(blobs, of: ref, into: store, progress: progress)
    }

    /// Removes the temporary repository.
    public func close() {
        let directory = state.withLock { s -> String? in
            s.closed = true
            s.local = nil
            defer { s.directory = nil }
            return s.directory
        }
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    // MARK: - Fetching

    /// The temporary repository holding `ref.commit`, fetching the commit by id when an earlier fetch did not
    /// bring it (the API resolved the ref, then failed before the listing).
    func ensure(_ ref: ResolvedRef) async throws -> LocalGitSource {
        if let local = state.withLock({ $0.local }) {
            let present = try await git(["cat-file", "-e", ref.commit.hex + "^{commit}"], in: local.repository)
            if present.status == 0 { return local }
        }
        return try await fetch(ref.commit.hex, forRef: ref.name)
    }

    /// `git fetch --depth 1 --no-tags <remote> <what>` into the temporary repository (made on first use); `depth`
    /// replaces `--depth 1` (`--deepen=N` for the ancestry check).
    func fetch(_ what: String, forRef ref: String, depth: [String] = ["--depth", "1"]) async throws -> LocalGitSource {
        let directory = try await prepareRepository()
        let before = Self.packBytes(in: directory)
        let args = try networkOptions(in: directory) + [
            "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "fetch.writeCommitGraph=false",
            "-c", "fetch.unpackLimit=1", "fetch", "--quiet"] + depth + ["--no-tags", "--no-recurse-submodules",
            "--", remoteURL, what,
        ]
        let r = try await git(args, in: directory)
        let received = max(0, Self.packBytes(in: directory) - before)
        state.withLock {
            $0.stats.connections += 1
            $0.stats.bytesReceived += received
            $0.stats.count(.git, requests: 1, bytes: received)
        }
        guard r.status == 0 else { throw explain(r.errorOutput, fetching: what, ref: ref) }
        if let local = state.withLock({ $0.local }) { return local }
        let local = try await LocalGitSource(path: directory)
        state.withLock { $0.local = local }
        return local
    }

    /// `git ls-remote` of `names` (full ref names): those the remote has.
    private func listRemote(_ names: [String], for ref: String) async throws -> [String] {
        let directory = try await prepareRepository()
        let args = try networkOptions(in: directory) + ["ls-remote", "--", remoteURL] + names
        let r = try await git(args, in: directory)
        state.withLock { $0.stats.connections += 1 }
        // Exit 2: nothing matched (only with --exit-code); any other failure is git's complaint.
        guard r.status == 0 else { throw explain(r.errorOutput, fetching: ref, ref: ref) }
        let wanted = Set(names)
        return String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let tab = line.firstIndex(of: "\t") else { return nil }
            let name = String(line[line.index(after: tab)...])
            return wanted.contains(name) ? name : nil
        }
    }

    /// The options of every git call that reaches the remote: no credential helper or prompt, protocol v2, the stall
    /// limit, no redirects while a token is set, and `--cacert`'s bundle.
    private func networkOptions(in directory: String) throws -> [String] {
        var args = [
            "-c", "credential.helper=", "-c", "core.askPass=", "-c", "protocol.version=2", "-c", "http.lowSpeedLimit=1",
            "-c", "http.lowSpeedTime=\(max(1, Int(stallTimeout.rounded(.up))))",
        ]
        if token != nil { args += ["-c", "http.followRedirects=false"] }
        if let bundle = try caBundle(in: directory) { args += ["-c", "http.sslCAInfo=" + bundle] }
        return args
    }

    /// Makes `<tmp>/clone-<random>` with an empty bare repository, once.
    private func prepareRepository() async throws -> String {
        if let existing = state.withLock({ $0.directory }) { return existing }
        Self.removeStaleClones(in: temporaryRoot)
        try FileManager.default.createDirectory(atPath: temporaryRoot, withIntermediateDirectories: true)
        let directory = temporaryRoot + "/clone-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let r: ProcessResult
        do {
            r = try await git(["init", "--quiet", "--bare", "."], in: directory)
        } catch let error as SmartSyncError where error.code == .sourceUnavailable {
            try? FileManager.default.removeItem(atPath: directory)
            throw SmartSyncError(
                .sourceUnavailable,
                "the shallow-clone fallback (API unreachable, over quota, or --force-full) needs the git executable, and none is on PATH",
                hint: "install git",
                cause: error)
        }
        guard r.status == 0 else {
            try? FileManager.default.removeItem(atPath: directory)
            throw SmartSyncError(
                .io, "could not create a temporary git repository in \(directory) for the shallow clone: \(r.errorOutput)")
        }
        let closed = state.withLock { s -> Bool in
            if !s.closed { s.directory = directory }
            return s.closed
        }
        if closed {
            try? FileManager.default.removeItem(atPath: directory)
            throw SmartSyncError(.cancelled, "the shallow-clone source was closed")
        }
        return directory
    }

    /// git in `directory`, with the token (if any) scoped to the git host through the environment, and nothing
    /// from the caller's environment that could prompt, trace headers, or reach another transport.
    private func git(_ arguments: [String], in directory: String) async throws -> ProcessResult {
        // ProcessRunner.git drops every inherited GIT_* variable and the system and global config.
        var env: [String: String?] = ["SSH_ASKPASS": nil, "GIT_ALLOW_PROTOCOL": "http:https"]
        if let token {
            env["GIT_CONFIG_COUNT"] = "1"
            env["GIT_CONFIG_KEY_0"] = "http." + gitURL + "/.extraHeader"
            env["GIT_CONFIG_VALUE_0"] = "Authorization: " + token.basicAuthorizationForGit
        }
        return try await ProcessRunner.runGit(arguments, in: directory, environmentChanges: env)
    }

    /// Turns git's complaint into an error naming the URL (never with credentials) and what to check.
    private func explain(_ stderr: String, fetching what: String, ref: String) -> SmartSyncError {
        let said = stderr.split(separator: "\n").suffix(3).joined(separator: " / ")
        let lower = stderr.lowercased()
        let url = remoteURL
        let isSHA = ObjectID(hex: what) != nil
        if lower.contains("couldn't find remote ref") || lower.contains("not our ref")
            || lower.contains("unadvertised object") || lower.contains("no such remote ref")
        {
            let kind = isSHA ? "commit \(what)" : "ref '\(ref)'"
            return SmartSyncError(
                .notFound,
                "\(kind) was not found at \(url) (git said: \(said))", hint: "check the branch, tag or SHA"
                    + (isSHA ? " (the server must allow fetching a commit by SHA, as GitHub does)" : ""))
        }
        if lower.contains("authentication failed") || lower.contains("could not read username")
            || lower.contains("could not read password") || lower.contains("returned error: 401")
            || lower.contains("returned error: 403")
        {
            let hint =
                token == nil
                ? "for a private repository set a token (GH_TOKEN)"
                : "check the token (\(token!.origin)): it may be expired, revoked, or lack access to this repository"
            return SmartSyncError(.unauthorized, "\(url) refused the fetch (git said: \(said))", hint: hint)
        }
        if lower.contains("repository") && lower.contains("not found") || lower.contains("returned error: 404") {
            return SmartSyncError(
                .notFound, "the repository \(url) was not found (git said: \(said))",
                hint: "check OWNER/REPO and --git-url; for a private repository set a token (GH_TOKEN)")
        }
        if lower.contains("ssl") || lower.contains("certificate") || lower.contains("tls") {
            return SmartSyncError(
                .tls,
                "TLS with \(url) failed (git said: \(said))",
                hint: "if the git host uses a private CA, pass it with --cacert FILE"
            )
        }
        if lower.contains("returned error: 5") {
            return SmartSyncError(
                .http, "the git host answered with a server error for \(url) (git said: \(said))",
                hint: "try again later")
        }
        if lower.contains("redirect") || lower.contains("returned error: 30") {
            return SmartSyncError(
                .http,
                "\(url) redirected elsewhere, which the fallback does not follow while a token is set, so the token stays with the git host (git said: \(said))",
                hint: "pass the final location with --git-url"
            )
        }
        if lower.contains("could not resolve host") || lower.contains("failed to connect")
            || lower.contains("connection") || lower.contains("timed out") || lower.contains("operation too slow")
            || lower.contains("rpc failed") || lower.contains("early eof") || lower.contains("unable to access")
        {
            return SmartSyncError(
                .network,
                "the shallow clone from \(url) failed (git said: \(said))",
                hint: "check the network and --git-url, then retry")
        }
        return SmartSyncError(
            .sourceUnavailable, "git fetch --depth 1 from \(url) failed (git said: \(said))", hint: "check --git-url")
    }

    // MARK: - Helpers

    /// Total size of the packs in a repository: what git received, as fetches keep their packs (unpackLimit 1).
    static func packBytes(in repository: String) -> Int {
        let dir = repository + "/objects/pack"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        var total = 0
        for name in names where name.hasSuffix(".pack") {
            var st = stat()
            if stat(dir + "/" + name, &st) == 0 { total += Int(st.st_size) }
        }
        return total
    }

    /// With `--cacert`, the system bundle plus the extra certificates, written once into the temporary
    /// repository (git's `http.sslCAInfo` replaces the system trust; `--cacert` adds to it).
    private func caBundle(in directory: String) throws -> String? {
        guard let extraCAFile else { return nil }
        let path = directory + "/smart-sync-ca.pem"
        if FileManager.default.fileExists(atPath: path) { return path }
        guard let extra = FileManager.default.contents(atPath: extraCAFile) else {
            throw SmartSyncError(
                .invalidArgument, "cannot read the CA certificate file '\(extraCAFile)' given with --cacert")
        }
        let systemCandidates = [
            "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem",
        ]
        var pem = systemCandidates.lazy.compactMap { FileManager.default.contents(atPath: $0) }.first ?? Data()
        pem.append(Data("\n".utf8))
        pem.append(extra)
        guard FileManager.default.createFile(atPath: path, contents: pem) else {
            throw SmartSyncError.io("create", path: path)
        }
        return path
    }

    /// Removes `clone-*` directories older than a day: what killed runs left behind.
    static func removeStaleClones(in root: String, olderThan age: TimeInterval = 24 * 3600) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for name in names where name.hasPrefix("clone-") {
            let path = root + "/" + name
            guard let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
            else { continue }
            if Date().timeIntervalSince(modified) > age { try? FileManager.default.removeItem(atPath: path) }
        }
    }
}

extension GitHubToken {
    /// `Basic base64("x-access-token:" + token)`: what GitHub's git host accepts for every token kind (personal,
    /// fine-grained, app installation), as `actions/checkout` sends it. For git only; the REST API gets Bearer.
    var basicAuthorizationForGit: String {
        let value = String(authorizationHeader.dropFirst("Bearer ".count))
        return "Basic " + Data(("x-access-token:" + value).utf8).base64EncodedString()
    }
}
