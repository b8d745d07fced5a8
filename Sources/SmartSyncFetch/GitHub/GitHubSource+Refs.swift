import Foundation
import Logging
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
/// | a branch or tag name | 2 `matching-refs` at once (3 with a slash in the name) | one `304`: the form it resolved to |
/// | an annotated tag | + 1 `git/tags/{sha}` the first time (immutable, then cached) | — |
/// | a short SHA | the name's requests, `matching-refs/remotes/…`, then `commits/{prefix}` | — |
///
/// A `304` costs no rate-limit quota, so a no-op sync stays free whatever the ref. A short name asks first for the
/// one form it resolved to last (``RefFormMemory``): a `304` that still holds it settles the name with one request;
/// anything else (a `200`, the ref gone, no memory, a memory a day old) asks every form, the answered one excepted.
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
            let memory = RefFormMemory(directory: cache.directory, repositoryAPI: location.repoAPI, name: name.text)
            var asked: [String: GitHubJSON.Ref.Object] = [:]
            var askedPrefix: String?
            if case .shortName = name.kind, let form = memory.load(), name.candidates.contains(form) {
                let answer = try await matchingRefs(prefix: form, keeping: Set(name.candidates), for: name)
                if answer.unchanged, let object = answer.refs[form] {
                    logger.debug("ref \(name.text): \(form) as last time, unchanged (one request)")
                    return ResolvedRef(name: name.text, commit: try await peel(object, of: form))
                }
                (asked, askedPrefix) = (answer.refs, form)
            }
            let refs = try await matchingRefs(for: name, asked: asked, askedPrefix: askedPrefix)
            switch try name.match(in: refs.keys, source: "repository '\(location.slug)'") {
            case .ref(let full):
                if case .shortName = name.kind { memory.store(full) }
                return ResolvedRef(name: name.text, commit: try await peel(refs[full]!, of: full))
            case .abbreviatedCommit(let prefix):
                memory.clear()
                return ResolvedRef(name: name.text, commit: try await commitSHA(prefix, of: name, immutable: false))
            }
        }
    }

    /// The refs `name` may mean (full name → object). GitHub keeps no ref with fewer than two slashes, so `refs/NAME`
    /// is asked for only when NAME has one; remote-tracking refs, last in git's order, only when nothing else matched.
    /// `askedPrefix`, answered already with `asked`, is not asked again.
    private func matchingRefs(
        for name: RefName, asked: [String: GitHubJSON.Ref.Object] = [:], askedPrefix: String? = nil
    ) async throws -> [String: GitHubJSON.Ref.Object] {
        let wanted = Set(name.candidates)
        let namespaced = name.candidates.filter {
            !$0.hasPrefix("refs/remotes/") && $0.dropFirst("refs/".count).contains("/")
        }
        var found = asked
        try await withThrowingTaskGroup(of: [String: GitHubJSON.Ref.Object].self) { group in
            for prefix in namespaced where prefix != askedPrefix {
                group.addTask { try await self.matchingRefs(prefix: prefix, keeping: wanted, for: name).refs }
            }
            for try await refs in group { found.merge(refs) { a, _ in a } }
        }
        if found.isEmpty, case .shortName(let short) = name.kind, askedPrefix != "refs/remotes/" + short {
            found = try await matchingRefs(prefix: "refs/remotes/" + short, keeping: wanted, for: name).refs
        }
        return found
    }

    /// `GET …/git/matching-refs/{prefix}`; only the refs named in `wanted` are kept. `unchanged`: the answer is the
    /// cached one (a `304`).
    private func matchingRefs(prefix: String, keeping wanted: Set<String>, for name: RefName) async throws
        -> (refs: [String: GitHubJSON.Ref.Object], unchanged: Bool)
    {
        let url = location.repoAPI + "/git/matching-refs/"
            + URLPath.encodePath(TreePath(String(prefix.dropFirst("refs/".count))))
        let answer = try await apiAnswer(
            url, accept: "application/vnd.github+json", subject: "the refs of repository '\(location.slug)'",
            onNotFound: { try await self.explainMissing(name.text) })
        var found: [String: GitHubJSON.Ref.Object] = [:]
        for ref in try GitHubJSON.decode([GitHubJSON.Ref].self, answer.body, endpoint: "GET " + url)
        where wanted.contains(ref.ref) {
            found[ref.ref] = ref.object
        }
        return (found, answer.unchanged)
    }

    /// The commit a ref ends at: its object when that is a commit, else each annotated tag peeled with
    /// `GET …/git/tags/{sha}` (immutable, so cached without revalidation).
    private func peel(_ object: GitHubJSON.Ref.Object, of ref: String) async throws -> ObjectID {
        var object = object
        for _ in 0..<10 {
            guard let id = ObjectID(hex: object.sha) else {
                throw SmartSyncError(
                    .malformedResponse, "the API named '\(object.sha)' as the object of \(ref)",
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
                    "\(ref) in repository '\(location.slug)' points at a \(object.type), not a commit",
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
        let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let commit = ObjectID(hex: text) else {
            throw SmartSyncError(
                .malformedResponse,
                "GET \(url) did not answer with a commit SHA (got '\(text.prefix(60))')", hint: "check --api-url")
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
                "'\(ref)' is no branch or tag of repository '\(location.slug)', and GitHub knows no single commit starting with it",
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
