import FoundationEssentials
import SmartSyncCore
import SmartSyncGitObjects

/// How smart-sync's own git processes reach a git host: the shallow-clone fallback (``ShallowCloneSource``) and the
/// publish cache (``PublishCache``) share it, so the token is handled one way.
///
/// The token, when there is one, never appears on a command line, in a URL or in git's environment: it reaches git
/// as an `http.<git-url>/.extraHeader` in a config file of the call's own (``CallConfig``, given as
/// `GIT_CONFIG_GLOBAL` and removed when the call ends), so git sends it to the git host only; redirects are not
/// followed while it is set, no credential helper or prompt is consulted, and only http(s) transports are allowed.
struct GitRemote: Sendable {
    /// The git host's root (`--git-url`), without a trailing slash.
    let gitURL: String
    let token: GitHubToken?
    /// Seconds below 1 byte/s before git gives up (`http.lowSpeedTime`).
    let stallTimeout: Double
    /// PEM certificates trusted in addition to the system's (`--cacert`).
    let extraCAFile: String?
    /// What the messages call the operation ("the shallow clone").
    let purpose: String
    /// The git command the messages name ("git fetch --depth 1").
    let command: String
    /// Where each call's config directory is made (the store's `tmp/`).
    let temporaryDirectory: String

    init(
        gitURL: String, token: GitHubToken?, stallTimeout: Double, extraCAFile: String?, purpose: String,
        command: String, temporaryDirectory: String
    ) {
        var base = gitURL
        while base.hasSuffix("/") { base.removeLast() }
        self.gitURL = base
        self.token = token
        self.stallTimeout = stallTimeout
        self.extraCAFile = extraCAFile
        self.purpose = purpose
        self.command = command
        self.temporaryDirectory = temporaryDirectory
    }

    /// `{git-url}/{owner}/{repo}.git`, never with credentials.
    func repositoryURL(owner: String, repository: String) -> String {
        gitURL + "/" + URLPath.encodeSegment(owner) + "/" + URLPath.encodeSegment(repository) + ".git"
    }

    /// The options of every git call that reaches the remote: no credential helper or prompt, protocol v2, the stall
    /// limit, no redirects while a token is set. (The token and `--cacert` come through ``git(_:in:)``'s config.)
    func networkOptions() -> [String] {
        var args = [
            "-c", "credential.helper=", "-c", "core.askPass=", "-c", "protocol.version=2", "-c", "http.lowSpeedLimit=1",
            "-c", "http.lowSpeedTime=\(lowSpeedTime)",
        ]
        if token != nil { args += ["-c", "http.followRedirects=false"] }
        return args
    }

    /// `stallTimeout` as whole seconds git takes (1 s to a day; 30 for a value that is no number).
    private var lowSpeedTime: Int {
        stallTimeout.isFinite ? Int(min(max(stallTimeout, 1), 86400).rounded(.up)) : 30
    }

    /// git in `directory`, with the token (if any) scoped to the git host and `--cacert`'s bundle through the call's
    /// own config file (``CallConfig``), and nothing from the caller's environment that could prompt, trace headers,
    /// or reach another transport.
    func git(_ arguments: [String], in directory: String) async throws -> ProcessResult {
        // ProcessRunner.git drops every inherited GIT_* variable and the system and global config.
        var env: [String: String?] = ["SSH_ASKPASS": nil, "GIT_ALLOW_PROTOCOL": "http:https"]
        let config = try CallConfig.make(for: self)
        defer { config?.remove() }
        if let config { env["GIT_CONFIG_GLOBAL"] = config.configPath }
        return try await ProcessRunner.runGit(arguments, in: directory, environmentChanges: env)
    }

    /// `git ls-remote` of `names` (full ref names) at `url`: those the remote has. `ref` is what the messages name.
    func listRemote(_ names: [String], url: String, in directory: String, for ref: String) async throws -> [String] {
        let args = networkOptions() + ["ls-remote", "--", url] + names
        let r = try await git(args, in: directory)
        // Exit 2: nothing matched (only with --exit-code); any other failure is git's complaint.
        guard r.status == 0 else { throw explain(r, url: url, fetching: ref, ref: ref) }
        let wanted = Set(names)
        return r.stdoutString.split(separator: "\n").compactMap { line in
            guard let tab = line.firstIndex(of: "\t") else { return nil }
            let name = String(line[line.index(after: tab)...])
            return wanted.contains(name) ? name : nil
        }
    }

    /// Turns git's complaint about `url` into an error naming the URL (never with credentials) and what to check.
    /// Git's words are quoted as ``ProcessResult/errorExcerpt`` (a server's text among them).
    func explain(_ r: ProcessResult, url: String, fetching what: String, ref: String) -> SmartSyncError {
        let said = r.errorExcerpt
        let lower = r.errorOutput.lowercased()
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
                token.map {
                    "check the token (\($0.origin)): it may be expired, revoked, or lack access to this repository"
                } ?? "for a private repository set a token (GH_TOKEN)"
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
                "\(url) redirected elsewhere, which \(purpose) does not follow while a token is set, so the token "
                    + "stays with the git host (git said: \(said))",
                hint: "pass the final location with --git-url"
            )
        }
        if lower.contains("could not resolve host") || lower.contains("failed to connect")
            || lower.contains("connection") || lower.contains("timed out") || lower.contains("operation too slow")
            || lower.contains("rpc failed") || lower.contains("early eof") || lower.contains("unable to access")
        {
            return SmartSyncError(
                .network,
                "\(purpose) from \(url) failed (git said: \(said))",
                hint: "check the network and --git-url, then retry")
        }
        return SmartSyncError(
            .sourceUnavailable, "\(command) from \(url) failed (git said: \(said))", hint: "check --git-url")
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
