import Logging
import SmartSyncCore
import SmartSyncGitObjects

/// The commit checks over the REST API.
///
/// - Ancestry: `GET …/compare/{ancestor}...{descendant}` (conditional, like every request: the answer for two commit
///   ids never changes, so every later run gets a free `304`). `status` `ahead` or `identical` is yes, `behind` or
///   `diverged` no; a commit GitHub does not know (404) cannot be told.
/// - A commit's bytes: `GET …/git/commits/{sha}` (immutable, cached). The REST answer is no commit object: its dates
///   lose their time zone and its message may lose its last newline. A signed commit's `verification` carries the
///   exact signed bytes (`payload`) and the `signature`, from which the object is rebuilt as git writes it (the
///   `gpgsig` header, continuation lines indented by one space, at the end of the headers) and kept only when it
///   hashes to the id. An unsigned commit cannot be rebuilt that way, and the error says so.
extension GitHubSource {
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        if ancestor == descendant { return true }
        let url = location.repoAPI + "/compare/" + ancestor.hex + "..." + descendant.hex + "?per_page=1"
        let body: [UInt8]
        do {
            body = try await apiGet(
                url, accept: "application/vnd.github+json",
                subject: "the comparison of commits \(ancestor.abbreviated()) and \(descendant.abbreviated())")
        } catch let error as SmartSyncError where error.code == .notFound {
            logger.debug("compare \(ancestor.abbreviated())...\(descendant.abbreviated()): not found, cannot tell")
            return nil
        }
        let comparison = try GitHubJSON.decode(GitHubJSON.Comparison.self, body, endpoint: "GET " + url)
        logger.debug(
            "compare \(ancestor.abbreviated())...\(descendant.abbreviated()): \(comparison.status)",
            metadata: ["status": "\(comparison.status)"])
        switch comparison.status {
        case "ahead", "identical": return true
        case "behind", "diverged": return false
        default: return nil
        }
    }

    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        let url = location.repoAPI + "/git/commits/" + id.hex
        let body = try await apiGet(
            url, accept: "application/vnd.github+json", subject: "commit \(id)", immutable: true)
        let commit = try GitHubJSON.decode(GitHubJSON.GitCommit.self, body, endpoint: "GET " + url)
        let verification = commit.verification
        guard let payload = verification?.payload, let signature = verification?.signature else {
            throw SmartSyncError(
                .sourceUnavailable,
                "GitHub's answer for commit \(id) carries no signed payload (verification: "
                    + "\(verification?.reason.map { EscapedText.excerpt($0) } ?? "none")), and the REST API gives "
                    + "no unsigned commit's exact bytes",
                hint: "an unsigned commit cannot pass --require-signed-commits; sign it (git commit -S)")
        }
        for candidate in Self.signedBodies(payload: Array(payload.utf8), signature: signature) {
            if ObjectID.hash(.commit, candidate) == id { return candidate }
        }
        throw SmartSyncError(
            .integrity,
            "the commit object rebuilt from GitHub's verification payload and signature "
                + "does not hash to \(id); not used",
            hint: "check --api-url")
    }

    /// The commit object git would have written for `payload` signed with `signature`: the `gpgsig` header inserted
    /// at the end of the headers (git's `add_header_signature`), every line of the signature ended by a newline
    /// whether or not the API kept the last one; the caller's hash check decides whether it is the commit.
    static func signedBodies(payload: [UInt8], signature: String) -> [[UInt8]] {
        var text = signature
        while text.hasSuffix("\n") { text.removeLast() }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var header = Array("gpgsig".utf8)
        for line in lines { header += [UInt8(ascii: " ")] + Array(line.utf8) + [UInt8(ascii: "\n")] }
        // The end of the headers: just after the first "\n\n"'s first newline; the whole payload when it has none.
        var insert = payload.count
        if payload.count >= 2 {
            for i in 0..<(payload.count - 1) where payload[i] == 0x0A && payload[i + 1] == 0x0A {
                insert = i + 1
                break
            }
        }
        let withHeader = Array(payload[..<insert]) + header + Array(payload[insert...])
        return [withHeader]
    }
}

extension GitHubJSON {
    /// `GET …/compare/{base}...{head}`: only the relation is read.
    struct Comparison: Decodable {
        var status: String
    }

    /// `GET …/git/commits/{sha}`: the signed payload and signature, when there are.
    struct GitCommit: Decodable {
        struct Verification: Decodable {
            var verified: Bool?
            var reason: String?
            var signature: String?
            var payload: String?
        }
        var sha: String
        var verification: Verification?
    }
}
