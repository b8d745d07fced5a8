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
        for e in entries { try RepoPath.check(e.path) }
        // Sorted by path bytes: a repeated path is two neighbours, and each lookup below a binary search.
        var kinds = PathTable<FileMode>()
        kinds.reserveCapacity(entries.count)
        let order = entries.indices.sorted { entries[$0].path.compare(entries[$1].path) < 0 }
        for i in order {
            if let last = kinds.keys.last, last == entries[i].path {
                throw SmartSyncError(.unsafePath, "the tree lists '\(last)' twice; refusing to sync this tree")
            }
            kinds.append(entries[i].path, entries[i].mode)
        }
        for e in entries {
            // The nearest listed ancestor decides: a tree is checked in its own turn (so its ancestors are too); an
            // unlisted one (a listing without its trees) is looked through.
            var parent = e.parent
            while !parent.isEmpty {
                if let mode = kinds[parent] {
                    guard mode == .tree else {
                        let what = mode == .symlink ? "a symlink" : "a non-directory entry"
                        throw SmartSyncError(
                            .unsafePath,
                            "the tree entry '\(e.path)' runs through '\(parent)', which is \(what) in the same tree; refusing to sync this tree"
                        )
                    }
                    break
                }
                parent = parent.parent
            }
        }
    }

    /// Recomputes every tree object from the listing and checks that they hash up to ``rootTree``.
    ///
    /// This is what makes a listing from an untrusted mirror or proxy safe: any changed, missing or extra
    /// entry changes some tree id on the way to the root. Requires a complete listing (trees included).
    public func verify() throws {
        var children: [TreePath: [TreeObject.Child]] = [.root: []]
        var listedTrees: [TreePath: ObjectID] = [:]
        for e in entries {
            children[e.parent, default: []].append(TreeObject.Child(name: e.name.bytes, mode: e.mode, id: e.id))
            if e.mode == .tree {
                listedTrees[e.path] = e.id
                if children[e.path] == nil { children[e.path] = [] }
            }
        }
        // Deepest first, so each tree's children are final when it is hashed.
        let order = children.keys.sorted { $0.depth > $1.depth }
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
}

/// Rules for paths that come from the network, applied to the bytes as git's `verify_path` does.
public enum RepoPath {
    /// Throws `.unsafePath` when `path` is not a plain relative path safe to create under a target.
    ///
    /// Refused: an empty path or component (`a//b`, a trailing `/`), an absolute path, NUL, `.` and `..`, and a
    /// component git itself refuses to check out because a file system could take it for `.git`: `.git` in any case,
    /// and (git's `core.protectNTFS`, on by default) `.git` followed by dots or spaces and the short name `git~1`,
    /// and names that end in a backslash-separated `.git` (`a\.git`).
    public static func check(_ path: TreePath) throws {
        func refuse(_ why: String) -> SmartSyncError {
            SmartSyncError(.unsafePath, "the tree entry '\(path)' \(why); refusing to sync this tree")
        }
        let bytes = path.bytes
        if bytes.isEmpty { throw refuse("is empty") }
        if bytes.contains(0) { throw refuse("contains a NUL byte") }
        if bytes.first == 0x2F { throw refuse("is an absolute path") }
        for component in bytes.split(separator: 0x2F, omittingEmptySubsequences: false) {
            if component.isEmpty { throw refuse("has an empty component") }
            if component.elementsEqual([0x2E]) || component.elementsEqual([0x2E, 0x2E]) {
                throw refuse("has a '\(TreePath(bytes: component))' component")
            }
            // NTFS and FAT also split on backslashes: every backslash-separated piece must pass too.
            for piece in component.split(separator: 0x5C, omittingEmptySubsequences: false)
            where isDotGit(piece) || isShortDotGit(piece) {
                throw refuse("has a component git refuses, as the file system could take it for '.git'")
            }
        }
    }

    /// `.git` in any case, followed by nothing but dots and spaces (NTFS strips those).
    private static func isDotGit(_ name: ArraySlice<UInt8>) -> Bool {
        guard name.count >= 4, name.first == 0x2E else { return false }
        let stem = name.dropFirst().prefix(3).map { $0 | 0x20 }
        guard stem == Array("git".utf8) else { return false }
        return name.dropFirst(4).allSatisfy { $0 == 0x2E || $0 == 0x20 }
    }

    /// The 8.3 short name `git~1` (any case), which NTFS and FAT resolve to `.git`.
    private static func isShortDotGit(_ name: ArraySlice<UInt8>) -> Bool {
        name.count == 5 && name.map { $0 | 0x20 }.elementsEqual(Array("git~1".utf8))
    }
}
