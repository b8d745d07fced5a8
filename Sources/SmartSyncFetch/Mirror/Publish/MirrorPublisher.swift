import FoundationEssentials
import SmartSyncCore
import SmartSyncGitObjects

/// Writes a static mirror (docs/MIRROR.md, version 1) of refs of a git repository into a directory: what
/// `smart-sync publish` does.
///
/// The repository is a local one (`--source`) or the publish cache of a GitHub repository (``PublishCache``, which
/// fetches the refs first); everything after resolving the refs is the same code. git does the reading: `git
/// rev-list` for the history, `git ls-tree` for listings, one `git cat-file --batch` for commit and blob files
/// (streamed, each checked against its id), `git pack-objects` for the per-commit packs.
///
/// A publish adds only what the directory lacks, in the order commits, listings, objects, packs, then `refs` and
/// `refs.sig` (see ``PublishDirectory``), so a reader of `refs` always finds every file it points to.
public struct MirrorPublisher: Sendable {
    /// What to publish and how.
    public struct Options: Sendable {
        /// The refs, as `--ref` names them (branch, tag, full `refs/…` name, `HEAD` or a full commit id); the
        /// first is the pointer's `head`.
        public var refs: [String]
        /// Most ancestors written per publish, back to the commits the previous pointer named (`--history`).
        public var history: Int = 1000
        /// Seconds from now until the pointer expires (`--expires-in`).
        public var expiresIn: Int64 = 7 * 86400
        /// A private key (or, with an agent, a public key) for `ssh-keygen -Y sign` (`--sign-key`).
        public var signingKey: String?
        /// Whether to write `packs/<commit>.pack` (`--no-packs`: false).
        public var packs = true

        public init(refs: [String]) { self.refs = refs }
    }

    /// What a publish wrote.
    public struct Report: Sendable, Equatable {
        /// The pointer written to `refs`.
        public var pointer: PublishedRefs
        public var commitsWritten = 0
        public var listingsWritten = 0
        public var objectsWritten = 0
        public var packsWritten = 0
        /// Bytes of every new file (`refs` and `refs.sig` included).
        public var bytesWritten = 0
        /// Whether `refs.sig` was written.
        public var signed = false
    }

    /// The mirror directory (`--to`).
    public let directory: String
    /// The name written into the mirror (`repository` of `smart-sync-mirror.json` and `refs`); nil: `OWNER/REPO`
    /// for a GitHub repository, the absolute path of a local one.
    public let repositoryName: String?

    public init(directory: String, repositoryName: String? = nil) {
        self.directory = directory
        self.repositoryName = repositoryName
    }

    /// Publishes `options.refs` of the local repository at `path` (bare or not).
    ///
    /// - Throws: `.notFound` naming a ref that does not resolve; `.conflict` when the directory holds a mirror of
    ///   another repository or files that are no mirror; `.locked` while another publish writes it.
    public func publish(repository path: String, options: Options) async throws -> Report {
        let source = try await LocalGitSource(path: path)
        let name = repositoryName ?? source.repository
        let output = try open(as: name)
        return try await abandoning(output.directory) {
            var resolved: [ResolvedRef] = []
            for ref in Self.unique(options.refs) { resolved.append(try await source.resolve(ref)) }
            return try await write(
                resolved, as: name, from: source.repository, into: output.directory, previous: output.previous,
                options: options)
        }
    }

    /// Fetches `options.refs` into `cache` (one `git fetch`, the commits back to `options.history` deep) and
    /// publishes them from there.
    public func publish(cache: PublishCache, options: Options) async throws -> Report {
        let name = repositoryName ?? cache.slug
        let output = try open(as: name)
        return try await abandoning(output.directory) {
            let resolved = try await cache.update(refs: Self.unique(options.refs), depth: max(1, options.history))
            return try await write(
                resolved, as: name, from: cache.repository, into: output.directory, previous: output.previous,
                options: options)
        }
    }

    // MARK: - The directory

    /// `body`, removing the directory again when it fails and this publish made it (nothing left behind).
    private func abandoning(_ out: PublishDirectory, _ body: () async throws -> Report) async throws -> Report {
        do {
            return try await body()
        } catch {
            out.abandon()
            throw error
        }
    }

    /// Locks the directory and checks that it is empty or a mirror of this repository; returns the pointer it
    /// holds.
    private func open(as name: String) throws -> (directory: PublishDirectory, previous: PublishedRefs?) {
        let out = try PublishDirectory(path: directory)
        do {
            return (out, try previousPointer(in: out, as: name))
        } catch {
            out.abandon()
            throw error
        }
    }

    /// The pointer `out` holds, after checking that it is empty or a mirror of `name`.
    private func previousPointer(in out: PublishDirectory, as name: String) throws -> PublishedRefs? {
        let identityFile = directory + "/" + MirrorIdentity.fileName
        var previous: PublishedRefs?
        if let bytes = try out.read(PublishDirectory.refsFile) {
            let pointer = try PublishedRefs(parsing: bytes, source: directory + "/refs")
            try checkSameRepository(pointer.repository, is: name, named: directory + "/refs")
            previous = pointer
        }
        if let bytes = try out.read(MirrorIdentity.fileName) {
            let found = try MirrorIdentity(parsing: bytes, source: identityFile).repository
            try checkSameRepository(found, is: name, named: identityFile)
        } else if previous == nil, let other = try out.rootNames().sorted().first {
            throw SmartSyncError(
                .conflict,
                "\(directory) is not empty ('\(other)') and holds no smart-sync mirror (\(MirrorIdentity.fileName))",
                hint: "publish into an empty or new directory")
        }
        return previous
    }

    private func checkSameRepository(_ found: String, is name: String, named file: String) throws {
        guard found == name else {
            throw SmartSyncError(
                .conflict,
                "\(directory) holds a mirror of '\(found)' (\(file)), not of '\(name)'",
                hint: "publish each repository into a directory of its own")
        }
    }

    // MARK: - Writing

    /// Writes the files of `resolved` (commits of `repository`) that the directory lacks, then the pointer.
    private func write(
        _ resolved: [ResolvedRef], as name: String, from repository: String, into out: PublishDirectory,
        previous: PublishedRefs?, options: Options
    ) async throws -> Report {
        let git = PublishGit(repository: repository)
        var report = Report(
            pointer: PublishedRefs(repository: name, published: 0, expires: 0, head: "", refs: []))
        let identity = MirrorIdentity(repository: name).encoded()
        if try out.write(identity, to: MirrorIdentity.fileName) { report.bytesWritten += identity.count }

        // Listings first in memory: their blobs are written with the commits by one cat-file.
        var listings: [(commit: ObjectID, tree: ObjectID, listing: PublishListing)] = []
        for ref in resolved where !listings.contains(where: { $0.commit == ref.commit }) {
            let tree = try await git.rootTree(of: ref.commit)
            listings.append((ref.commit, tree, try await git.listing(of: tree)))
        }
        let history = try await git.history(
            of: listings.map(\.commit), since: previous?.refs.map(\.commit) ?? [], limit: options.history)
        var files: [PublishGit.ObjectFile] = []
        var seen = Set<ObjectID>()
        for id in listings.map(\.commit) + history where seen.insert(id).inserted {
            let file = PublishDirectory.commitFile(id)
            if try !out.contains(file) { files.append(.init(id: id, kind: .commit, file: file)) }
        }
        let commitFiles = files.count
        for (_, _, listing) in listings {
            for blob in listing.blobs where seen.insert(blob).inserted {
                let file = PublishDirectory.objectFile(blob)
                if try !out.contains(file) { files.append(.init(id: blob, kind: .blob, file: file)) }
            }
        }
        let copied = try await git.copy(files, into: out)
        report.commitsWritten = commitFiles
        report.objectsWritten = files.count - commitFiles
        report.bytesWritten += copied

        for (_, tree, listing) in listings where try out.write(listing.bytes, to: PublishDirectory.listingFile(tree)) {
            report.listingsWritten += 1
            report.bytesWritten += listing.bytes.count
        }
        if options.packs {
            for (commit, tree, listing) in listings where try !out.contains(PublishDirectory.packFile(commit)) {
                report.bytesWritten += try await git.pack(commit: commit, tree: tree, listing: listing, into: out)
                report.packsWritten += 1
            }
        }
        out.syncDirectories()

        report.pointer = pointer(resolved, as: name, previous: previous, options: options)
        let signed = try await PublishSigner.install(report.pointer.encoded(), in: out, key: options.signingKey)
        report.bytesWritten += signed.bytes
        report.signed = signed.signed
        out.syncDirectories()
        return report
    }

    /// The new pointer: `published` now but never before the previous one's, `expires` now + `expiresIn`.
    private func pointer(_ resolved: [ResolvedRef], as name: String, previous: PublishedRefs?, options: Options)
        -> PublishedRefs
    {
        let now = Int64(Date().timeIntervalSince1970)
        return PublishedRefs(
            repository: name, published: max(now, previous?.published ?? 0), expires: now + options.expiresIn,
            head: resolved.first?.name ?? "HEAD", refs: resolved.map { .init(name: $0.name, commit: $0.commit) })
    }

    /// `refs` without repeats, in the order given.
    static func unique(_ refs: [String]) -> [String] {
        var seen = Set<String>()
        return refs.filter { seen.insert($0).inserted }
    }
}
