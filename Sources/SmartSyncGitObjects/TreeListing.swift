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
    /// Rejected: empty components, `.` and `..`, a `.git` component (any case), NUL, absolute paths, a component
    /// named as smart-sync names its own temporary files in a target (`.smart-sync-tmp-` and 1 to 16 lower-case hex
    /// digits, ``RepoPath/isTemporaryName(_:)``), duplicate paths, and any path below a symlink or file entry of the
    /// same tree (``RepoPath/check(_:)`` for each path).
    public func validate() throws {
        for e in entries { try RepoPath.check(e.path) }
        // In tree order, every entry's parent is a tree listed before it and no path comes twice: nothing to look up.
        if inTreeOrder({ _, _ in true }) { return }
        try validateInAnyOrder()
    }

    /// ``validate()`` then ``verify()``, the tree order walked once for both (a sync's check of every listing it
    /// uses): in that order the one pass that hashes the trees vouches for ``validate()``'s checks too. Anything else
    /// goes to their general forms, which decide as each alone does.
    ///
    /// - Throws: what ``validate()`` throws (`.unsafePath`) before anything ``verify()`` throws (`.integrity`).
    public func validateAndVerify() throws {
        for e in entries { try RepoPath.check(e.path) }
        if inTreeOrder({ id, children in TreeObject.id(of: children) == id }) { return }
        try validateInAnyOrder()
        try verifyInAnyOrder()
    }

    /// ``validate()``'s checks but ``RepoPath/check(_:)``'s, whatever the listing's order.
    private func validateInAnyOrder() throws {
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
                            "the tree entry '\(e.path)' runs through '\(parent)', which is \(what) in the same "
                                + "tree; refusing to sync this tree"
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
        // In tree order (as git, GitHub and a store's trees list a tree), each tree's children are together once
        // its last entry has passed: hashed then, with no table by path. Anything else, a mismatch included, is
        // decided (and named) below.
        if inTreeOrder({ id, children in TreeObject.id(of: children) == id }) { return }
        try verifyInAnyOrder()
    }

    /// ``verify()``, whatever the listing's order (a mismatch named by the tree that does not hash).
    private func verifyInAnyOrder() throws {
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
                    "the tree listing for commit \(commit.abbreviated()) does not hash to \(name): computed "
                        + "\(computed.abbreviated()). The listing was altered or is incomplete; refusing to sync it"
                )
            }
        }
    }
}

extension TreeListing {
    /// Walks a listing in git's own tree order: the root's entries, each tree's entries right after it (depth first),
    /// and the entries of one tree in strictly increasing git order (``TreeObject/precedes(_:_:)``), no file named as
    /// a tree beside it: the order `git ls-tree -r -t`, GitHub's recursive listing and ``StoredTrees`` give. Each
    /// entry's parent is then the innermost tree still open, so a stack of the open trees is all it takes.
    ///
    /// `close` is called with each tree's id (the root's: ``rootTree``) and its children, in the listing's order, once
    /// its last entry has passed (the root last). Returns true when the listing is in that order and every `close`
    /// returned true; false (having looked at part of it only) otherwise. In that order no path is listed twice and
    /// none runs through a non-directory, and each tree's children are what a grouping by parent would give: the
    /// checks of ``validate()`` and ``verify()`` hold, and a false leaves the decision to their general form.
    func inTreeOrder(_ close: (ObjectID, [TreeObject.Child]) -> Bool) -> Bool {
        var steps = 0
        return inTreeOrder(steps: &steps, close)
    }

    /// ``inTreeOrder(_:)``, adding to `steps` each comparison of two sibling names (`TreeObject.precedes`): one per
    /// entry, plus a binary search among its siblings per tree, whatever the names (a test holds it to that bound).
    func inTreeOrder(steps: inout Int, _ close: (ObjectID, [TreeObject.Child]) -> Bool) -> Bool {
        // The open trees: each one's path length in bytes (its children's names start one past it), id and children.
        var stack: [(length: Int, id: ObjectID, children: [TreeObject.Child])] = [(0, rootTree, [])]
        var open: [TreePath] = [.root]  // the open trees' paths, beside `stack`
        for e in entries {
            let placed: Bool = e.path.withBytes { path in
                guard let slash = path.lastIndex(of: 0x2F) else {
                    // At the root: every open tree closes.
                    while stack.count > 1 {
                        let done = stack.removeLast()
                        open.removeLast()
                        guard close(done.id, done.children) else { return false }
                    }
                    return append(e, name: path[...], to: &stack, open: &open, steps: &steps)
                }
                // Close the open trees until the innermost is this entry's parent; none: not in tree order.
                while stack.count > 1 {
                    let top = stack.count - 1
                    if stack[top].length == slash
                        && open[top].withBytes({ $0.elementsEqual(UnsafeBufferPointer(rebasing: path[..<slash])) })
                    {
                        return append(e, name: path[(slash + 1)...], to: &stack, open: &open, steps: &steps)
                    }
                    let done = stack.removeLast()
                    open.removeLast()
                    guard close(done.id, done.children) else { return false }
                }
                return false
            }
            guard placed else { return false }
        }
        while let done = stack.popLast() {
            guard close(done.id, done.children) else { return false }
        }
        return true
    }

    /// Appends `e` (named `name`) to the innermost open tree's children when it comes after the last of them in git's
    /// order, and opens it when it is a tree; false when it does not, when a file of the same name is already there,
    /// or when the name is empty (no path component: a tree `""` opened would take `/x` as its child).
    private func append(
        _ e: TreeEntry, name: Slice<UnsafeBufferPointer<UInt8>>,
        to stack: inout [(length: Int, id: ObjectID, children: [TreeObject.Child])], open: inout [TreePath],
        steps: inout Int
    ) -> Bool {
        guard !name.isEmpty else { return false }
        let top = stack.count - 1
        let child = TreeObject.Child(name: Array(name), mode: e.mode, id: e.id)
        if let last = stack[top].children.last {
            steps += 1
            guard TreeObject.precedes(last, child) else { return false }
            if e.mode == .tree && Self.holdsFile(like: child, in: stack[top].children, steps: &steps) { return false }
        }
        stack[top].children.append(child)
        if e.mode == .tree {
            stack.append((e.path.count, e.id, []))
            open.append(e.path)
        }
        return true
    }

    /// Whether `children` (strictly increasing in git's order) hold an entry other than a tree named as `tree`.
    ///
    /// Such a file sorts before the tree, but not next to it ("a" < "a-b" < "a/"): a binary search for where it would
    /// stand, log n comparisons. A scan back over the siblings whose names start with the tree's cost n comparisons of
    /// up to n bytes a tree on a hostile listing (trees `a`, `a!`, `a!!`, ... listed longest first): n³ in all.
    static func holdsFile(like tree: TreeObject.Child, in children: [TreeObject.Child], steps: inout Int) -> Bool {
        var file = tree
        file.mode = .regular
        // The first child that does not precede `file`: the file itself when it is there.
        var low = 0
        var high = children.count
        while low < high {
            let mid = low + (high - low) / 2
            steps += 1
            if TreeObject.precedes(children[mid], file) { low = mid + 1 } else { high = mid }
        }
        return low < children.count && children[low].mode != .tree && children[low].name == tree.name
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
    ///
    /// Refused too: a component of the exact shape smart-sync gives its own temporary files in a target
    /// (``isTemporaryName(_:)``), which its scan passes over as a killed run's leftover.
    public static func check(_ path: TreePath) throws {
        // On the path's own bytes, component by component: no array per path or component (a listing of n paths is
        // checked on every sync that fetches it).
        let problem: Problem? = path.withBytes { bytes -> Problem? in
            if bytes.isEmpty { return .unsafe("is empty") }
            if bytes.contains(0) { return .unsafe("contains a NUL byte") }
            if bytes[0] == 0x2F { return .unsafe("is an absolute path") }
            var start = 0
            while start <= bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != 0x2F { end += 1 }
                let component = bytes[start..<end]
                if component.isEmpty { return .unsafe("has an empty component") }
                if component.count <= 2 && component.allSatisfy({ $0 == 0x2E }) {
                    return .unsafe("has a '\(component.count == 1 ? "." : "..")' component")
                }
                if component[component.startIndex] == 0x2E && isTemporaryName(component) { return .temporaryName }
                // NTFS and FAT also split on backslashes: every backslash-separated piece must pass too.
                var piece = component.startIndex
                while piece <= component.endIndex {
                    var stop = piece
                    while stop < component.endIndex && bytes[stop] != 0x5C { stop += 1 }
                    let name = UnsafeBufferPointer(rebasing: bytes[piece..<stop])
                    if isDotGit(name) || isShortDotGit(name) {
                        return .unsafe("has a component git refuses, as the file system could take it for '.git'")
                    }
                    piece = stop + 1
                }
                start = end + 1
            }
            return nil
        }
        if let problem { throw refusal(path, problem) }
    }

    /// Throws what ``check(_:)`` throws for a component of `path` of the temporary shape (``isTemporaryName(_:)``),
    /// and only for that: for a path a sync is about to write that came from a listing not checked by this release
    /// (the manifest an earlier release saved, a generation's, a pin's).
    public static func refuseTemporaryName(_ path: TreePath) throws {
        let found = path.withBytes { bytes in
            bytes.split(separator: 0x2F).contains { $0.first == 0x2E && isTemporaryName($0) }
        }
        if found { throw refusal(path, .temporaryName) }
    }

    /// Why ``check(_:)`` refuses a path.
    private enum Problem {
        case unsafe(String)
        /// A component of the temporary shape (``isTemporaryName(_:)``).
        case temporaryName
    }

    private static func refusal(_ path: TreePath, _ problem: Problem) -> SmartSyncError {
        switch problem {
        case .unsafe(let why):
            SmartSyncError(.unsafePath, "the tree entry '\(path)' \(why); refusing to sync this tree")
        case .temporaryName:
            SmartSyncError(
                .unsafePath,
                "the tree entry '\(path)' has a component named as smart-sync names its own temporary files "
                    + "('\(temporaryPrefix)' and hex digits), which a sync takes for a killed run's leftover; "
                    + "refusing to sync this tree",
                hint: "rename it in the repository: names of this shape are smart-sync's own in a target")
        }
    }

    /// The prefix of the temporary names smart-sync makes in a target (`FileSystem.temporaryName(_:)`).
    public static let temporaryPrefix = ".smart-sync-tmp-"

    /// Whether `name` has the exact shape of a temporary name smart-sync makes in a target: ``temporaryPrefix``, then
    /// 1 to 16 lower-case hex digits (64 random bits; 8 digits in earlier releases) and nothing else. Any other name
    /// under the prefix (`.smart-sync-tmp-notes`) is an ordinary name.
    public static func isTemporaryName<Name: Collection<UInt8>>(_ name: Name) -> Bool {
        let prefix = temporaryPrefix.utf8
        guard name.starts(with: prefix) else { return false }
        let digits = name.dropFirst(prefix.count)
        return (1...16).contains(digits.count)
            && digits.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `.git` in any case, followed by nothing but dots and spaces (NTFS strips those).
    private static func isDotGit(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard name.count >= 4, name[0] == 0x2E, name[1] | 0x20 == 0x67, name[2] | 0x20 == 0x69, name[3] | 0x20 == 0x74
        else { return false }
        return name.dropFirst(4).allSatisfy { $0 == 0x2E || $0 == 0x20 }
    }

    /// The 8.3 short name `git~1` (any case), which NTFS and FAT resolve to `.git`.
    private static func isShortDotGit(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        name.count == 5 && name[0] | 0x20 == 0x67 && name[1] | 0x20 == 0x69 && name[2] | 0x20 == 0x74 && name[3] == 0x7E
            && name[4] == 0x31
    }
}
