import FoundationEssentials
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import Synchronization

/// A local git repository (bare or not) as the source: the offline path, and what a shallow-clone fallback
/// feeds into the same store. Reads through the `git` executable; every blob is still verified by its id.
public final class LocalGitSource: SyncSource {
    /// The repository directory.
    public let repository: String
    private let stats = Mutex(SourceStatistics())

    public var displayName: String { "git:" + repository }
    public var transport: String { "local" }
    public var statistics: SourceStatistics { stats.withLock { $0 } }

    /// Opens the repository at `path`. Throws `.sourceUnavailable` when it is not a git repository.
    public init(path: String) async throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        repository = URL(fileURLWithPath: absolute).standardizedFileURL.path
        guard FileSystem.isDirectory(repository) else {
            throw SmartSyncError(
                .sourceUnavailable,
                "the source '\(path)' does not exist or is not a directory",
                hint: "pass a git repository with --source")
        }
        given = path
    }

    private let given: String
    private let checked = Mutex(false)

    /// Makes sure the directory is a git repository, once, before the first use that needs git (a no-op sync of a
    /// commit the target has needs none, so it starts no process).
    func checkRepository() async throws {
        guard !checked.withLock({ $0 }) else { return }
        let probe = try await git(["rev-parse", "--git-dir"])
        guard probe.status == 0 else {
            throw SmartSyncError(
                .sourceUnavailable,
                "the source '\(given)' is not a git repository (git said: \(probe.errorExcerpt))",
                hint: "pass a repository (bare or not) with --source"
            )
        }
        checked.withLock { $0 = true }
    }

    /// ``RefName``'s rule over the repository's refs (`git for-each-ref` of the candidates); `HEAD` is the
    /// repository's own, and a short SHA that names no ref is expanded by git (an ambiguous one is refused).
    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        try await checkRepository()
        let name = try RefName(ref)
        let spec: String
        switch name.kind {
        case .head: spec = "HEAD"
        case .commit(let id): spec = id.hex
        case .fullName, .shortName:
            let listed = try await git(["for-each-ref", "--format=%(objectname) %(refname)"] + name.candidates)
            guard listed.status == 0 else {
                throw SmartSyncError(
                    .sourceUnavailable, "git for-each-ref failed in the local repository "
                        + "\(repository): \(listed.errorExcerpt)")
            }
            var refs: [String: String] = [:]
            for line in String(decoding: listed.stdout, as: UTF8.self).split(separator: "\n") {
                guard let space = line.firstIndex(of: " ") else { continue }
                refs[String(line[line.index(after: space)...])] = String(line[..<space])
            }
            switch try name.match(in: refs.keys, source: "the local repository \(repository)") {
            case .ref(let full): spec = refs[full]!
            case .abbreviatedCommit(let prefix): spec = try await expand(prefix)
            }
        }
        var resolved = try await commit(of: spec, shownAs: name.text)
        if ref == nil {
            let head = try await git(["symbolic-ref", "--short", "-q", "HEAD"])
            let branch = String(decoding: head.stdout, as: UTF8.self).trimmed()
            if head.status == 0 && !branch.isEmpty { resolved.name = branch }
        }
        return resolved
    }

    /// The commit (and its tree) that `spec`, an object id or a ref of the repository (the clone's `FETCH_HEAD`),
    /// ends at.
    func commit(of spec: String, shownAs name: String) async throws -> ResolvedRef {
        let commit = try await revParse(spec + "^{commit}", ref: name)
        return ResolvedRef(name: name, commit: commit, rootTree: try await revParse(commit.hex + "^{tree}", ref: name))
    }

    /// The full id of the one commit `prefix` abbreviates.
    private func expand(_ prefix: String) async throws -> String {
        let r = try await git(["rev-parse", "--verify", "--end-of-options", prefix.lowercased() + "^{commit}"])
        let text = String(decoding: r.stdout, as: UTF8.self).trimmed()
        if r.status == 0, ObjectID(hex: text) != nil { return text }
        let ambiguous = r.errorOutput.contains("ambiguous")
        throw SmartSyncError(
            ambiguous ? .invalidArgument : .notFound,
            "'\(prefix)' is no branch or tag of the local repository \(repository), and "
                + (ambiguous ? "several objects start with it" : "no commit starts with it"),
            hint: "give more digits or the full 40-character SHA")
    }

    private func revParse(_ spec: String, ref: String) async throws -> ObjectID {
        let r = try await git(["rev-parse", "--verify", "--quiet", "--end-of-options", spec])
        let text = String(decoding: r.stdout, as: UTF8.self).trimmed()
        guard r.status == 0, let id = ObjectID(hex: text) else {
            throw SmartSyncError(
                .notFound,
                "ref '\(ref)' was not found in the local repository \(repository), or is no commit",
                hint: "check the branch, tag or SHA (git branch -a; git tag)"
            )
        }
        return id
    }

    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        try await checkRepository()
        let r = try await git(["ls-tree", "-r", "-t", "-l", "-z", "--full-tree", ref.commit.hex])
        guard r.status == 0 else {
            throw SmartSyncError(
                .sourceUnavailable, "git ls-tree failed for commit \(ref.commit) in \(repository): \(r.errorExcerpt)")
        }
        let records = r.stdout.split(separator: 0)
        var entries: [TreeEntry] = []
        entries.reserveCapacity(records.count)  // one entry a record: no slack of a doubled array held with the listing
        for record in records where !record.isEmpty {
            // "<mode> SP <type> SP <sha> SP+ <size or -> TAB <path>"
            guard let tab = record.firstIndex(of: UInt8(ascii: "\t")) else { continue }
            let fields = record[record.startIndex..<tab].split(separator: UInt8(ascii: " "))
            guard fields.count == 4, let mode = FileMode(octal: String(decoding: fields[0], as: UTF8.self)),
                let id = ObjectID(hex: String(decoding: fields[2], as: UTF8.self))
            else {
                throw SmartSyncError(
                    .malformedResponse, "unexpected git ls-tree output for \(ref.commit) in \(repository)")
            }
            let path = TreePath(bytes: record[(tab + 1)...])
            entries.append(
                TreeEntry(path: path, mode: mode, id: id, size: Int(String(decoding: fields[3], as: UTF8.self))))
        }
        let root = try await revParse(ref.commit.hex + "^{tree}", ref: ref.name)
        return TreeListing(commit: ref.commit, rootTree: root, entries: entries)
    }

    public func fetch(_ blobs: [BlobWant], of ref: ResolvedRef, into store: ObjectStore, progress: FetchProgress)
        async throws
        -> FetchReport
    {
        try await checkRepository()
        var seen = Set<ObjectID>()
        let wanted = blobs.filter { seen.insert($0.id).inserted && !store.contains($0.id) }
        guard !wanted.isEmpty else { return FetchReport() }
        let repository = self.repository
        let report = try await DedicatedThread.run(name: "ss-local-blobs") {
            try Self.catFile(repository: repository, wanted: wanted, store: store, progress: progress)
        }
        stats.withLock {
            $0.blobRequests += report.blobsFetched
            $0.bytesReceived += report.bytesReceived
        }
        return report
    }

    /// git in the repository, to completion.
    func git(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.runGit(arguments, in: repository)
    }

    /// Streams objects from `git cat-file --batch` straight into store writers.
    private static func catFile(
        repository: String, wanted: [BlobWant], store: ObjectStore, progress: FetchProgress
    ) throws -> FetchReport {
        try ProcessRunner.withCatFileBatch(wanted.map(\.id), in: repository) { reader in
            try copy(wanted, from: reader, repository: repository, store: store, progress: progress)
        }
    }

    /// Reads `wanted`'s answers from `git cat-file --batch` into store writers.
    private static func copy(
        _ wanted: [BlobWant], from reader: PipeReader, repository: String, store: ObjectStore, progress: FetchProgress
    ) throws -> FetchReport {
        var report = FetchReport()
        for want in wanted {
            let header = try reader.readLine()
            let fields = header.split(separator: " ")
            guard fields.count == 3, fields[1] == "blob", let size = Int(fields[2]) else {
                if header.hasSuffix(" missing") {
                    throw SmartSyncError(
                        .notFound,
                        "blob \(want.id) ('\(want.path)') is missing from the local repository \(repository)",
                        hint: "is it a shallow or partial clone?"
                    )
                }
                throw SmartSyncError(.malformedResponse, "unexpected git cat-file output for \(want.id): '\(header)'")
            }
            let writer = try store.makeWriter(expecting: want.id, size: size)
            do {
                try reader.read(count: size) { chunk in
                    try writer.write(chunk)
                    progress.bytes(chunk.count)
                }
                _ = try reader.readLine()  // the newline after the content
                try writer.commit()
            } catch {
                writer.abort()
                throw error
            }
            report.blobsFetched += 1
            report.bytesReceived += size
            progress.blobDone(want)
        }
        return report
    }

    public func close() {}
}

/// Buffered reads from a pipe descriptor: lines and exact byte counts.
final class PipeReader {
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 256 * 1024)
    private var start = 0
    private var end = 0

    init(fd: Int32) { self.fd = fd }

    private func fill() throws {
        if start == end {
            start = 0
            end = 0
        }
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + end, $0.count - end) }
        if n < 0 { throw SmartSyncError.io("read", path: "git cat-file pipe") }
        if n == 0 { throw SmartSyncError(.sourceUnavailable, "git cat-file ended early") }
        end += n
    }

    func readLine() throws -> String {
        var line: [UInt8] = []
        while true {
            if start == end { try fill() }
            if let nl = buffer[start..<end].firstIndex(of: UInt8(ascii: "\n")) {
                line.append(contentsOf: buffer[start..<nl])
                start = nl + 1
                return String(decoding: line, as: UTF8.self)
            }
            line.append(contentsOf: buffer[start..<end])
            start = end
        }
    }

    func read(count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var remaining = count
        while remaining > 0 {
            if start == end { try fill() }
            let n = min(remaining, end - start)
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + n)])) }
            start += n
            remaining -= n
        }
    }
}
