import Foundation

/// A throwaway git repository for tests, with reproducible commits.
///
/// Commits use fixed author / committer names, emails and dates, so the same content, message and parents always
/// give the same SHA. The repository ignores the user's and the system's git config.
///
/// A bare fixture keeps its work tree beside the bare repository (`<tmp>/work`); ``path`` is the bare repository,
/// which is what servers should be pointed at.
public final class GitFixture: Sendable {
    /// Fixed identity and date used for every commit and annotated tag.
    public static let authorName = "Smart Sync Test"
    public static let authorEmail = "test@smart-sync.invalid"
    /// 2024-01-01T00:00:00Z.
    public static let date = "1704067200 +0000"

    /// Owns the files; removed with the fixture.
    public let directory: TemporaryDirectory
    /// The repository to hand to servers: the bare repository, or the work tree of a non-bare one.
    public let path: String
    /// Where ``write(_:_:executable:)`` and friends put files.
    public let workTree: String
    /// The git directory (`.git` of a non-bare repository, or the bare repository).
    public let gitDir: String
    /// Whether ``path`` is a bare repository.
    public let isBare: Bool

    /// Creates an empty repository whose default branch is `main`.
    public init(bare: Bool = false) throws {
        directory = try TemporaryDirectory(prefix: "git-fixture")
        isBare = bare
        if bare {
            path = directory.appending("repo.git")
            workTree = directory.appending("work")
            gitDir = path
            try FileManager.default.createDirectory(atPath: workTree, withIntermediateDirectories: true)
            try ProcessRunner.run("git", ["init", "-q", "--bare", "-b", "main", path], environment: Self.environment)
        } else {
            path = directory.appending("repo")
            workTree = path
            gitDir = path + "/.git"
            try ProcessRunner.run("git", ["init", "-q", "-b", "main", path], environment: Self.environment)
        }
    }

    /// The environment every git command runs with: no global / system config, fixed identities and dates.
    public static let environment: [String: String?] = [
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": authorName,
        "GIT_AUTHOR_EMAIL": authorEmail,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": authorName,
        "GIT_COMMITTER_EMAIL": authorEmail,
        "GIT_COMMITTER_DATE": date,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": nil,
        "SSH_ASKPASS": nil,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "LC_ALL": "C",
        "TZ": "UTC",
    ]

    private static let config = [
        "-c", "core.symlinks=true", "-c", "core.fileMode=true", "-c", "core.autocrlf=false",
        "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main",
        "-c", "user.name=\(authorName)", "-c", "user.email=\(authorEmail)", "-c", "gc.auto=0",
    ]

    /// Runs `git` in this repository (with the fixture's config and environment) and returns trimmed stdout.
    @discardableResult
    public func git(_ arguments: String...) throws -> String {
        try git(arguments)
    }

    /// Array form of ``git(_:)-(String...)``.
    @discardableResult
    public func git(_ arguments: [String], input: [UInt8]? = nil) throws -> String {
        try gitResult(arguments, input: input).output
    }

    /// Runs `git` outside any fixture (`git hash-object`, `git clone` of a test server) with the fixtures'
    /// environment (no user or system config, no prompts, no proxy for loopback) and returns the whole result.
    @discardableResult
    public static func run(
        _ arguments: [String], in directory: String? = nil, input: [UInt8]? = nil, check: Bool = true
    ) throws -> ProcessResult {
        try ProcessRunner.run(
            "git", arguments, environment: environment, currentDirectory: directory, input: input, check: check)
    }

    /// Runs `git` and returns the whole result (raw stdout bytes, stderr, status).
    public func gitResult(_ arguments: [String], input: [UInt8]? = nil, check: Bool = true) throws -> ProcessResult {
        let location = ["--git-dir=\(gitDir)", "--work-tree=\(workTree)"]
        return try ProcessRunner.run(
            "git", Self.config + location + arguments, environment: Self.environment, currentDirectory: workTree,
            input: input, check: check)
    }

    // MARK: Work tree edits

    /// Writes a text file (creating parent directories), replacing whatever was at `path` (a symlink too).
    public func write(_ path: String, _ contents: String, executable: Bool = false) throws {
        try write(path, Array(contents.utf8), executable: executable)
    }

    /// Writes a binary file (creating parent directories), replacing whatever was at `path` (a symlink too).
    public func write(_ path: String, _ contents: [UInt8], executable: Bool = false) throws {
        try TestFiles.write(workTree + "/" + path, bytes: contents, mode: executable ? 0o755 : 0o644)
    }

    /// Creates (or replaces) a symlink at `path` pointing at `target` (taken verbatim, usually relative).
    public func symlink(_ path: String, to target: String) throws {
        try TestFiles.symlink(workTree + "/" + path, to: target)
    }

    /// Deletes a file, symlink or directory tree from the work tree, then any parent directories left empty
    /// (as `git rm` does).
    public func remove(_ path: String) throws {
        try FileManager.default.removeItem(atPath: workTree + "/" + path)
        var parent = (path as NSString).deletingLastPathComponent
        while !parent.isEmpty && parent != "/" {
            let full = workTree + "/" + parent
            guard (try? FileManager.default.contentsOfDirectory(atPath: full))?.isEmpty == true else { break }
            try FileManager.default.removeItem(atPath: full)
            parent = (parent as NSString).deletingLastPathComponent
        }
    }

    // MARK: History

    /// Stages everything (additions, changes, deletions) and commits on the current branch. Returns the commit SHA.
    @discardableResult
    public func commit(_ message: String) throws -> String {
        try git("add", "-A")
        try git("commit", "-q", "--allow-empty", "--no-verify", "-m", message)
        return try git("rev-parse", "HEAD")
    }

    /// Writes `files` (path, contents; in order) and commits everything as ``commit(_:)`` does: one step of a
    /// fixture's history in one call. Returns the commit SHA.
    @discardableResult
    public func commit(_ message: String, writing files: KeyValuePairs<String, String>) throws -> String {
        for (path, contents) in files { try write(path, contents) }
        return try commit(message)
    }

    /// Creates (or moves) a tag at `commit` (default `HEAD`). Annotated tags get `message` and the fixed tagger.
    /// Returns the SHA the tag ref points at (the tag object for annotated tags).
    @discardableResult
    public func tag(_ name: String, annotated: Bool = false, at commit: String? = nil, message: String? = nil) throws
        -> String
    {
        var args = ["tag", "-f"]
        if annotated { args += ["-a", "-m", message ?? "Tag \(name)"] }
        args += [name, commit ?? "HEAD"]
        try git(args)
        return try git("rev-parse", "refs/tags/\(name)")
    }

    /// Creates or moves branch `name` to `commit` (default `HEAD`) without switching to it.
    public func branch(_ name: String, at commit: String? = nil) throws {
        if try currentBranch() == name {
            try git("reset", "-q", "--hard", commit ?? "HEAD")
        } else {
            try git("branch", "-f", name, commit ?? "HEAD")
        }
    }

    /// Switches the work tree to `branch` (creating it at HEAD when missing).
    public func checkout(_ branch: String) throws {
        let exists = try gitResult(["rev-parse", "--verify", "-q", "refs/heads/\(branch)"], check: false).succeeded
        try git(exists ? ["checkout", "-q", "-f", branch] : ["checkout", "-q", "-b", branch])
    }

    /// The checked-out branch name.
    public func currentBranch() throws -> String {
        try git("symbolic-ref", "--short", "HEAD")
    }

    /// Resolves any revision (`main`, `v1^{commit}`, `HEAD~1:dir`) to a full SHA.
    public func revParse(_ revision: String) throws -> String {
        try git("rev-parse", "--verify", revision)
    }

    /// Extracts `git archive <commit>` into `directory` (created if needed): what a correct sync of `commit`
    /// must produce. Exec bits and symlinks are preserved; submodules appear as empty directories.
    public func archive(commit: String, into directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tar = self.directory.appending("archive-\(UUID().uuidString).tar")
        defer { try? FileManager.default.removeItem(atPath: tar) }
        try git("archive", "--format=tar", "-o", tar, commit)
        try ProcessRunner.run("tar", ["-x", "-p", "-f", tar, "-C", directory])
    }

    /// What `git archive <commit>` holds, as a snapshot (extracted into a temporary directory, removed again).
    public func archiveSnapshot(commit: String) throws -> DirectorySnapshot {
        let scratch = try TemporaryDirectory(prefix: "archive")
        try archive(commit: commit, into: scratch.path)
        return try DirectorySnapshot(of: scratch.path)
    }
}
