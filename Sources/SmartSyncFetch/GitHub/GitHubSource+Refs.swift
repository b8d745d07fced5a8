import FoundationEssentials
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncTransfer

/// Resolution over the REST API, by ``RefName``'s rule.
///
/// GitHub's own `commits/{ref}` picks between a tag and a branch of one name by rules of its own and may read a
/// hex-looking name as a SHA, so names are looked up as refs: `GET …/git/matching-refs/{tags,heads}/NAME` (and
/// `…/NAME` when NAME holds a slash), sent together, each conditional. Costs, with validators cached:
///
/// | `--ref` | requests | when unchanged |
/// | --- | --- | --- |
/// | none (`HEAD`) | 1 `commits/HEAD` | one `304` |
/// | a full SHA | 1 the first time, then none | none |
/// | `refs/heads/x`, `refs/tags/v1` | 1 `matching-refs` | one `304` |
/// | a branch or tag name | 2 `matching-refs` at once (3 with a slash in the name) | two `304`s, one round trip |
/// | an annotated tag | + 1 `git/tags/{sha}` the first time (immutable, then cached) | — |
/// | a short SHA | the name's requests, `matching-refs/remotes/…`, then `commits/{prefix}` | — |
///
/// A `304` costs no rate-limit quota, so a no-op sync stays free whatever the ref.
extension GitHubSource {
    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        let name = try RefName(ref)
        switch name.kind {
        case .head:
            // `HEAD` names the default branch: one request instead of asking for the branch's name first.
            return ResolvedRef(name: name.text, commit: try await commitSHA("HEAD", of: name, immutable: false))
        case .commit(let id):
            // Checked once (that it exists, as a commit), then taken from the cache with no request.
            return ResolvedRef(name: name.text, commit: try await commitSHA(id.hex, of: name, immutable: true))
        case .fullName, .shortName:
            let refs = try await matchingRefs(for: name)
            switch try name.match(in: refs.keys, source: "repository '\(location.slug)'") {
            case .ref(let full):
                return ResolvedRef(name: name.text, commit: try await peel(refs[full]!, of: full))
            case .abbreviatedCommit(let prefix):
                return ResolvedRef(name: name.text, commit: try await commitSHA(prefix, of: name, immutable: false))
            }
        }
    }

    /// The refs `name` may mean (full name → object). GitHub keeps no ref with fewer than two slashes, so `refs/NAME`
    /// is asked for only when NAME has one; remote-tracking refs, last in git's order, only when nothing else matched.
    private func matchingRefs(for name: RefName) async throws -> [String: GitHubJSON.Ref.Object] {
        let wanted = Set(name.candidates)
        let namespaced = name.candidates.filter {
            !$0.hasPrefix("refs/remotes/") && $0.dropFirst("refs/".count).contains("/")
        }
        var found = try await matchingRefs(prefixes: namespaced, keeping: wanted, for: name)
        if found.isEmpty, case .shortName(let short) = name.kind {
            found = try await matchingRefs(prefixes: ["refs/remotes/" + short], keeping: wanted, for: name)
        }
        return found
    }

    /// `GET …/git/matching-refs/{prefix}` for each prefix at once; only the refs named in `wanted` are kept.
    private func matchingRefs(prefixes: [String], keeping wanted: Set<String>, for name: RefName) async throws
        -> [String: GitHubJSON.Ref.Object]
    {
        try await withThrowingTaskGroup(of: [GitHubJSON.Ref].self) { group in
            for prefix in prefixes {
                group.addTask {
                    let url = self.location.repoAPI + "/git/matching-refs/"
                        + URLPath.encodePath(TreePath(String(prefix.dropFirst("refs/".count))))
                    let body = try await self.apiGet(
                        url, accept: "application/vnd.github+json",
                        subject: "the refs of repository '\(self.location.slug)'",
                        onNotFound: { try await self.explainMissing(name.text) })
                    return try GitHubJSON.decode([GitHubJSON.Ref].self, body, endpoint: "GET " + url)
                }
            }
            var found: [String: GitHubJSON.Ref.Object] = [:]
            for try await refs in group {
                for ref in refs where wanted.contains(ref.ref) { found[ref.ref] = ref.object }
            }
            return found
        }
    }

    /// The commit a ref ends at: its object when that is a commit, else each annotated tag peeled with
    /// `GET …/git/tags/{sha}` (immutable, so cached without revalidation).
    private func peel(_ object: GitHubJSON.Ref.Object, of ref: String) async throws -> ObjectID {
        var object = object
        for _ in 0..<10 {
            guard let id = ObjectID(hex: object.sha) else {
                throw SmartSyncError(
                    .malformedResponse, "the API named '\(EscapedText.excerpt(object.sha))' as the object of \(ref)",
                    hint: "check --api-url")
            }
            switch object.type {
            case "commit":
                return id
            case "tag":
                let url = location.repoAPI + "/git/tags/" + id.hex
                let body = try await apiGet(
                    url, accept: "application/vnd.github+json", subject: "tag \(id) of \(ref)", immutable: true)
                object = try GitHubJSON.decode(GitHubJSON.Tag.self, body, endpoint: "GET " + url).object
            default:
                throw SmartSyncError(
                    .invalidArgument,
                    "\(ref) in repository '\(location.slug)' points at a "
                        + "\(EscapedText.excerpt(object.type, limit: 60)), not a commit",
                    hint: "give a branch, tag or SHA of a commit"
                )
            }
        }
        throw SmartSyncError(
            .malformedResponse, "\(ref) in repository '\(location.slug)' is a chain of more than 10 tags",
            hint: "check the tag")
    }

    /// `GET …/commits/{spec}` with `Accept: application/vnd.github.sha`: the commit id alone.
    private func commitSHA(_ spec: String, of name: RefName, immutable: Bool) async throws -> ObjectID {
        let url = location.repoAPI + "/commits/" + URLPath.encodePath(TreePath(spec))
        let body = try await apiGet(
            url, accept: "application/vnd.github.sha",
            subject: "ref '\(name.text)' of repository '\(location.slug)'",
            onNotFound: { try await self.explainMissing(name.text, abbreviated: name.mayAbbreviateACommit) },
            immutable: immutable)
        let text = String(decoding: body, as: UTF8.self).trimmed()
        guard let commit = ObjectID(hex: text) else {
            throw SmartSyncError(
                .malformedResponse,
                "GET \(url) did not answer with a commit SHA (got '\(EscapedText.excerpt(text, limit: 60))')",
                hint: "check --api-url")
        }
        return commit
    }

    /// Tells "no such repository" from "no such ref" after a 404.
    private func explainMissing(_ ref: String, abbreviated: Bool = false) async throws -> SmartSyncError {
        let url = location.repoAPI
        let response = try await send(url, accept: "application/vnd.github+json", conditional: nil)
        guard response.status == 200 else {
            return GitHubJSON.error(
                for: response, endpoint: "GET " + url, subject: "repository '\(location.slug)'",
                authenticated: token != nil)
        }
        if abbreviated {
            return SmartSyncError(
                .notFound,
                "'\(ref)' is no branch or tag of repository '\(location.slug)', and GitHub knows no "
                    + "single commit starting with it",
                hint: "give more digits, or the full 40-character SHA"
            )
        }
        return SmartSyncError(
            .notFound,
            "ref '\(ref)' was not found in repository '\(location.slug)' (HTTP 404/422 from \(url)/…)",
            hint: "check the branch, tag or SHA"
        )
    }
}
