import Foundation
import SmartSyncCore
import SmartSyncGitObjects

/// How smart-sync's own git processes reach a git host: the shallow-clone fallback (``ShallowCloneSource``) and the
/// publish cache (``PublishCache``) share it, so the token is handled one way.
///
/// The token, when there is one, never appears on a command line or in a URL: it reaches git through
/// `GIT_CONFIG_COUNT` as an `http.<git-url>/.extraHeader`, so git sends it to the git host only; redirects are
/// not followed while it is set, no credential helper or prompt is consulted, and only http(s) transports are
/// allowed.
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

    init(
        gitURL: String, token: GitHubToken?, stallTimeout: Double, extraCAFile: String?, purpose: String,
        command: String
    ) {
        var base = gitURL
        while base.hasSuffix("/") { base.removeLast() }
        self.gitURL = base
        self.token = token
        self.stallTimeout = stallTimeout
        self.extraCAFile = extraCAFile
        self.purpose = purpose
        self.command = command
    }

    /// `{git-url}/{owner}/{repo}.git`, never with credentials.
    func repositoryURL(owner: String, repository: String) -> String {
        gitURL + "/" + URLPath.encodeSegment(owner) + "/" + URLPath.encodeSegment(repository) + ".git"
    }

    /// The options of every git call that reaches the remote: no credential helper or prompt, protocol v2, the stall
    /// limit, no redirects while a token is set, and `--cacert`'s bundle (written into `directory`).
    func networkOptions(in directory: String) throws -> [String] {
        var args = [
            "-c", "credential.helper=", "-c", "core.askPass=", "-c", "protocol.version=2", "-c", "http.lowSpeedLimit=1",
            "-c", "http.lowSpeedTime=\(max(1, Int(stallTimeout.rounded(.up))))",
        ]
        if token != nil { args += ["-c", "http.followRedirects=false"] }
        if let bundle = try caBundle(in: directory) { args += ["-c", "http.sslCAInfo=" + bundle] }
        return args
    }

    /// git in `directory`, with the token (if any) scoped to the git host through the environment, and nothing
    /// from the caller's environment that could prompt, trace headers, or reach another transport.
    func git(_ arguments: [String], in directory: String) async throws -> ProcessResult {
        // ProcessRunner.git drops every inherited GIT_* variable and the system and global config.
        var env: [String: String?] = ["SSH_ASKPASS": nil, "GIT_ALLOW_PROTOCOL": "http:https"]
        if let token {
            env["GIT_CONFIG_COUNT"] = "1"
            env["GIT_CONFIG_KEY_0"] = "http." + gitURL + "/.extraHeader"
            env["GIT_CONFIG_VALUE_0"] = "Authorization: " + token.basicAuthorizationForGit
        }
        return try await ProcessRunner.runGit(arguments, in: directory, environmentChanges: env)
    }

    /// `git ls-remote` of `names` (full ref names) at `url`: those the remote has. `ref` is what the messages name.
    func listRemote(_ names: [String], url: String, in directory: String, for ref: String) async throws -> [String] {
        let args = try networkOptions(in: directory) + ["ls-remote", "--", url] + names
        let r = try await git(args, in: directory)
        // Exit 2: nothing matched (only with --exit-code); any other failure is git's complaint.
        guard r.status == 0 else { throw explain(r.errorOutput, url: url, fetching: ref, ref: ref) }
        let wanted = Set(names)
        return r.stdoutString.split(separator: "\n").compactMap { line in
            guard let tab = line.firstIndex(of: "\t") else { return nil }
            let name = String(line[line.index(after: tab)...])
            return wanted.contains(name) ? name : nil
        }
    }

    /// Turns git's complaint about `url` into an error naming the URL (never with credentials) and what to check.
    func explain(_ stderr: String, url: String, fetching what: String, ref: String) -> SmartSyncError {
        let said = stderr.split(separator: "\n").suffix(3).joined(separator: " / ")
        let lower = stderr.lowercased()
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
                "\(url) redirected elsewhere, which \(purpose) does not follow while a token is set, so the token stays with the git host (git said: \(said))",
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

    /// With `--cacert`, the system bundle plus the extra certificates, written once into `directory` (git's
    /// `http.sslCAInfo` replaces the system trust; `--cacert` adds to it).
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
}

extension GitHubToken {
    /// `Basic base64("x-access-token:" + token)`: what GitHub's git host accepts for every token kind (personal,
    /// fine-grained, app installation), as `actions/checkout` sends it. For git only; the REST API gets Bearer.
    var basicAuthorizationForGit: String {
        let value = String(authorizationHeader.dropFirst("Bearer ".count))
        return "Basic " + Data(("x-access-token:" + value).utf8).base64EncodedString()
    }
}
