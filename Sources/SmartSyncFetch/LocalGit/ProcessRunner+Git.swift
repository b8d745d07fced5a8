import SmartSyncCore

extension ProcessRunner {
    /// The most a git call's stdout may hold in memory (`git ls-tree -r` of a tree of a million files is ~100 MB).
    static let gitOutputLimit = 1 << 30

    /// `git -C repository -c safe.directory=repository -c core.quotepath=off <arguments>` for the local-repository
    /// source and the shallow-clone fallback, in a clean environment (``cleanGitEnvironment(_:)``) that the caller's
    /// git configuration cannot reach, with `environmentChanges` on top (a value sets, nil removes: e.g. a scoped
    /// credential for the shallow clone: `GIT_CONFIG_GLOBAL` naming ``GitRemote``'s private config file, so the token
    /// is neither on a command line nor in the environment).
    ///
    /// The repository is trusted even when another user owns it (read-only use). Throws `.sourceUnavailable` when
    /// no git is on `PATH`.
    static func git(
        _ arguments: [String], in repository: String, environmentChanges: [String: String?] = [:]
    ) throws -> ProcessRunner {
        let inherited = ChildEnvironment.current
        return ProcessRunner(
            try gitExecutable(searchPath: inherited["PATH"] ?? "/usr/bin:/bin"),
            ["-C", repository, "-c", "safe.directory=" + repository, "-c", "core.quotepath=off"] + arguments,
            environment: ChildEnvironment.applying(environmentChanges, to: cleanGitEnvironment(inherited)))
    }

    /// Runs ``git(_:in:environmentChanges:)`` to completion, stdout captured up to ``gitOutputLimit``.
    static func runGit(
        _ arguments: [String], in repository: String, environmentChanges: [String: String?] = [:]
    ) async throws -> ProcessResult {
        try await git(arguments, in: repository, environmentChanges: environmentChanges)
            .run(output: .capture(limit: gitOutputLimit))
    }

    /// `inherited` without anything that could steer git elsewhere, plus what every call needs:
    ///
    /// - every `GIT_*` variable is dropped: they can name another repository, object directory, config (or config
    ///   entries, through `GIT_CONFIG_COUNT`), program (`GIT_SSH_COMMAND`, `GIT_ASKPASS`), or turn off TLS checks
    ///   (`GIT_SSL_NO_VERIFY`);
    /// - the system and global config are not read (`GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL=/dev/null`), so an
    ///   `url.<x>.insteadOf`, `http.extraHeader` or `include.path` in `/etc/gitconfig`, `~/.gitconfig` or
    ///   `$XDG_CONFIG_HOME/git/config` has no effect (a credential's `GIT_CONFIG_GLOBAL` replaces `/dev/null` with a
    ///   file that holds only that credential); the repository's own config still applies;
    /// - replace refs are ignored (`GIT_NO_REPLACE_OBJECTS=1`): a commit's id always means its own content;
    /// - token variables (``ChildEnvironment/tokenVariables``) are dropped: git needs none of them;
    /// - no prompts, no pager, the C locale (git's messages are matched in English).
    static func cleanGitEnvironment(_ inherited: [String: String]) -> [String: String] {
        var env = ChildEnvironment.withoutTokens(inherited).filter { !$0.key.hasPrefix("GIT_") }
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["GIT_CONFIG_GLOBAL"] = "/dev/null"
        env["GIT_NO_REPLACE_OBJECTS"] = "1"
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["GIT_PAGER"] = "cat"
        env["LC_ALL"] = "C"
        return env
    }

    /// The git executable on `searchPath`.
    static func gitExecutable(searchPath: String) throws -> String {
        guard let git = find("git", searchPath: searchPath) else {
            throw SmartSyncError(
                .sourceUnavailable,
                "the local-repository source (--source) needs the git executable, and none is on PATH",
                hint: "install git")
        }
        return git
    }
}
