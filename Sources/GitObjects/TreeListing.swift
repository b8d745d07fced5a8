import SmartSyncCore

/// The flattened tree of one commit: every blob, symlink, gitlink and subtree with its path.
public struct TreeListing: Sendable, Hashable, Codable {
    /// The commit the listing belongs to.
    public var commit: ObjectID
    /// The commit's root tree id.
    public var rootTree: ObjectID
    /// All entries, trees included, in any order.
    public var entries: [TreeEntry]

    public init(commit: ObjectID, rootTree: ObjectID, entries: [TreeEntry]) {
        self.commit = commit
        self.rootTree = rootTree
        self.entries = entries
    }

    /// Entries a sync materializes: regular files, executables and symlinks.
    public var files: [TreeEntry] { entries.filter { $0.mode.isBlob } }

    /// Submodule entries: reported, never fetched.
    public var submodules: [TreeEntry] { entries.filter { $0.mode == .gitlink } }
}

extension TreeListing {
    /// Refuses listings that could write outside the target or through a link.
    ///
    /// Rejected: empty components, `.` and `..`, a `.git` component (any case), NUL, absolute paths,
    /// duplicate paths, and any path below a symlink or file entry of the same tree.
    public func validate() throws {
        var kinds: [Substring: FileMode] = [:]
        kinds.reserveCapacity(entries.count)
        for e in entries {
            try RepoPath.check(e.path)
            if kinds.updateValue(e.mode, forKey: e.path[...]) != nil {
                throw SmartSyncError(.unsafePath, "the tree lists '\(e.path)' twice; refusing to sync this tree")
            }
        }
        for e in entries {
            var parent = e.parent
            while !parent.isEmpty {
                if let mode = kinds[parent], mode != .tree {
                    let what = mode == .symlink ? "a symlink" : "a non-directory entry"
                    throw SmartSyncError(
                        .unsafePath,
                        "the tree entry '\(e.path)' runs through '\(parent)', which is \(what) in the same tree; refusing to sync this tree"
                    )
                }
                guard let slash = parent.lastIndex(of: "/") else { break }
                parent = parent[..<slash]
            }
        }
    }

    /// Recomputes every tree object from the listing and checks that they hash up to ``rootTree``.
    ///
    /// This is what makes a listing from an untrusted mirror or proxy safe: any changed, missing or extra
    /// entry changes some tree id on the way to the root. Requires a complete listing (trees included).
    public func verify() throws {
        var children: [Substring: [TreeObject.Child]] = ["": []]
        var listedTrees: [Substring: ObjectID] = [:]
        for e in entries {
            children[e.parent, default: []].append(TreeObject.Child(name: Array(e.name.utf8), mode: e.mode, id: e.id))
            if e.mode == .tree {
                listedTrees[e.path[...]] = e.id
                if children[e.path[...]] == nil { children[e.path[...]] = [] }
            }
        }
        // Deepest first, so each tree's children are final when it is hashed.
        let order = children.keys.sorted { depth($0) > depth($1) }
        for dir in order {
            let computed = TreeObject.id(of: children[dir] ?? [])
            let expected = dir.isEmpty ? rootTree : listedTrees[dir]
            guard let expected else {
                throw SmartSyncError(.integrity, "the tree listing has entries under '\(dir)' but no tree entry for it")
            }
            guard computed == expected else {
                let name =
                    dir.isEmpty ? "the root tree \(rootTree.abbreviated())" : "'\(dir)' (\(expected.abbreviated()))"
                throw SmartSyncError(
                    .integrity,
                    "the tree listing for commit \(commit.abbreviated()) does not hash to \(name): computed \(computed.abbreviated()). The listing was altered or is incomplete; refusing to sync it"
                )
            }
        }
    }

    private func depth(_ p: Substring) -> Int {
        p.isEmpty ? 0 : p.utf8.reduce(1) { $1 == UInt8(ascii: "/") ? $0 + 1 : $0 }
    }
}

/// Rules for paths that come from the network.
public enum RepoPath {
    /// Throws `.unsafePath` when `path` is not a plain relative path safe to create under a target.
    public static func check(_ path: String) throws {
        func refuse(_ why: String) -> SmartSyncError {
            let shown = path.split(separator: "\0", omittingEmptySubsequences: false).joined(separator: "\\0")
            return SmartSyncError(.unsafePath, "the tree entry '\(shown)' \(why); refusing to sync this tree")
        }
        if path.isEmpty { throw refuse("is empty") }
        if path.utf8.contains(0) { throw refuse("contains a NUL byte") }
        if path.hasPrefix("/") { throw refuse("is an absolute path") }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty { throw refuse("has an empty component") }
            if component == "." || component == ".." { throw refuse("has a '\(component)' component") }
            if component.lowercased() == ".git" { throw refuse("has a '.git' component") }
        }
    }
}
