import FoundationEssentials
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
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
/// The token, when there is one, reaches git as ``GitRemote`` passes it: an `http.<git-url>/.extraHeader` in a
/// config file of the call's own, never on a command line, in a URL or in git's environment; redirects are not
/// followed while it is set, no credential helper or prompt is consulted.
public final class ShallowCloneSource: SyncSource {
    /// `{git-url}/{owner}/{repo}.git`, never with credentials.
    public let remoteURL: String
    private let remote: GitRemote
    private let temporaryRoot: String
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
        remote = GitRemote(
            gitURL: gitURL, token: token, stallTimeout: stallTimeout, extraCAFile: extraCAFile,
            purpose: "the shallow clone", command: "git fetch --depth 1", temporaryDirectory: temporaryDirectory)
        remoteURL = remote.repositoryURL(owner: owner, repository: repository)
        temporaryRoot = temporaryDirectory
    }

    // MARK: - SyncSource

    /// Nil: resolving is the whole `git fetch` (``SyncSource/resolveAhead(_:)``).
    public func resolveAhead(_ ref: String?) async throws -> ResolvedRef? { nil }

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
                    "'\(name.text)' is not a branch or tag of \(remoteURL), and the shallow-clone "
                        + "fallback cannot resolve a short SHA",
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
            let present = try await remote.git(["cat-file", "-e", ref.commit.hex + "^{commit}"], in: local.repository)
            if present.status == 0 { return local }
        }
        return try await fetch(ref.commit.hex, forRef: ref.name)
    }

    /// `git fetch --depth 1 --no-tags <remote> <what>` into the temporary repository (made on first use); `depth`
    /// replaces `--depth 1` (`--deepen=N` for the ancestry check).
    func fetch(_ what: String, forRef ref: String, depth: [String] = ["--depth", "1"]) async throws -> LocalGitSource {
        let directory = try await prepareRepository()
        let before = Self.packBytes(in: directory)
        let args = remote.networkOptions() + [
            "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "fetch.writeCommitGraph=false",
            "-c", "fetch.unpackLimit=1", "fetch", "--quiet"] + depth + ["--no-tags", "--no-recurse-submodules",
            "--", remoteURL, what,
        ]
        let r = try await remote.git(args, in: directory)
        let received = max(0, Self.packBytes(in: directory) - before)
        state.withLock {
            $0.stats.connections += 1
            $0.stats.bytesReceived += received
            $0.stats.count(.git, requests: 1, bytes: received)
        }
        guard r.status == 0 else { throw remote.explain(r, url: remoteURL, fetching: what, ref: ref) }
        if let local = state.withLock({ $0.local }) { return local }
        let local = try await LocalGitSource(path: directory)
        state.withLock { $0.local = local }
        return local
    }

    /// `git ls-remote` of `names` (full ref names): those the remote has.
    private func listRemote(_ names: [String], for ref: String) async throws -> [String] {
        let directory = try await prepareRepository()
        defer { state.withLock { $0.stats.connections += 1 } }
        return try await remote.listRemote(names, url: remoteURL, in: directory, for: ref)
    }

    /// Makes `<tmp>/clone-<random>` with an empty bare repository, once.
    private func prepareRepository() async throws -> String {
        if let existing = state.withLock({ $0.directory }) { return existing }
        Self.removeStaleClones(in: temporaryRoot)
        try FileManager.default.createDirectory(atPath: temporaryRoot, withIntermediateDirectories: true)
        let directory = FileSystem.temporaryName(temporaryRoot + "/clone-")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let r: ProcessResult
        do {
            r = try await remote.git(["init", "--quiet", "--bare", "."], in: directory)
        } catch let error as SmartSyncError where error.code == .sourceUnavailable {
            try? FileManager.default.removeItem(atPath: directory)
            throw SmartSyncError(
                .sourceUnavailable,
                "the shallow-clone fallback (API unreachable, over quota, or --force-full) needs the git "
                    + "executable, and none is on PATH",
                hint: "install git",
                cause: error)
        }
        guard r.status == 0 else {
            try? FileManager.default.removeItem(atPath: directory)
            throw SmartSyncError(
                .io, "could not create a temporary git repository in \(directory) for the "
                    + "shallow clone: \(r.errorExcerpt)")
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
