import SmartSyncCore
import SmartSyncGitObjects

extension GitHubSource {
    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        let url = location.repoAPI + "/git/trees/" + ref.commit.hex + "?recursive=1"
        let body = try await apiGet(
            url, accept: "application/vnd.github+json", subject: "the tree of commit \(ref.commit)", immutable: true)
        let tree = try GitHubJSON.decode(GitHubJSON.Tree.self, body, endpoint: "GET " + url)
        guard let root = ObjectID(hex: tree.sha) else {
            throw SmartSyncError(.malformedResponse, "GET \(url) returned a tree without a valid sha",
            hint: "check --api-url")
        }
        if !tree.truncated {
            return TreeListing(
                commit: ref.commit, rootTree: root, entries: try entries(tree.tree, under: .root, endpoint: url))
        }
        // Over GitHub's limits (100,000 entries or 7 MB): walk the subtrees one level at a time.
        return TreeListing(commit: ref.commit, rootTree: root, entries: try await walk(tree: root, under: .root))
    }

    private func walk(tree: ObjectID, under prefix: TreePath) async throws -> [TreeEntry] {
        let url = location.repoAPI + "/git/trees/" + tree.hex
        let body = try await apiGet(
            url, accept: "application/vnd.github+json", subject: "tree \(tree)", immutable: true)
        let level = try GitHubJSON.decode(GitHubJSON.Tree.self, body, endpoint: "GET " + url)
        let here = try entries(level.tree, under: prefix, endpoint: url)
        return try await withThrowingTaskGroup(of: [TreeEntry].self) { group in
            for entry in here where entry.mode == .tree {
                group.addTask { try await self.walk(tree: entry.id, under: entry.path) }
            }
            var all = here
            for try await sub in group { all.append(contentsOf: sub) }
            return all
        }
    }

    private func entries(_ items: [GitHubJSON.Tree.Item], under prefix: TreePath, endpoint: String) throws
        -> [TreeEntry]
    {
        try items.map { item in
            // The server's text, escaped and cut (`EscapedText.excerpt`).
            guard let mode = FileMode(octal: item.mode), let id = ObjectID(hex: item.sha) else {
                throw SmartSyncError(
                    .malformedResponse,
                    "GET \(endpoint) lists '\(EscapedText.excerpt(item.path))' with mode "
                        + "'\(EscapedText.excerpt(item.mode))' and sha '\(EscapedText.excerpt(item.sha))', which "
                        + "smart-sync does not understand"
                )
            }
            // The size is the server's word (the tree hash does not cover it): one no file can have would overflow
            // the sums of what is left to fetch.
            if let size = item.size, !TreeEntry.isPlausible(size: size) {
                throw SmartSyncError(
                    .malformedResponse,
                    "GET \(endpoint) lists '\(EscapedText.excerpt(item.path))' with the size \(size), "
                        + "which no file can have",
                    hint: "check --api-url")
            }
            return TreeEntry(path: prefix.appending(TreePath(item.path)), mode: mode, id: id, size: item.size)
        }
    }
}
