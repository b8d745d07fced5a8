import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Tree listings read from commit and tree objects in the store (as a pack import leaves them).
///
/// The listing has the shape the other sources give: every entry (subtrees included, mode `.tree`), paths joined
/// with `/`, parents before their contents, and it passes ``TreeListing/verify()`` by construction since every
/// tree was stored under the hash of its own content.
public enum StoredTrees {
    /// The root tree of a stored commit; nil when the commit object is not in the store.
    public static func rootTree(ofCommit commit: ObjectID, in store: ObjectStore) throws -> ObjectID? {
        guard store.contains(commit) else { return nil }
        return try parseCommit(commit, in: store).tree
    }

    /// The flattened listing of a commit read from stored commit and tree objects, with no blob sizes: a tree
    /// records none, and the store's own size of an object it holds checks nothing about that object (the seal
    /// and the stat cache do), while asking for it costs an `lstat` per file of the tree on every update. Throws
    /// `.notFound` naming the missing tree when one is absent.
    public static func listing(commit: ObjectID, in store: ObjectStore) throws -> TreeListing {
        guard let root = try rootTree(ofCommit: commit, in: store) else {
            throw SmartSyncError(
                .notFound, "commit \(commit) is not in the store at \(store.root)",
                hint: "fetch it (with its trees) first")
        }
        var entries: [TreeEntry] = []
        try walk(root, path: .root, commit: commit, in: store, into: &entries)
        // Held through the sync: without the slack of an array grown by doubling (a quarter of it at 100,000 files).
        var exact: [TreeEntry] = []
        exact.reserveCapacity(entries.count)
        exact.append(contentsOf: entries)
        return TreeListing(commit: commit, rootTree: root, entries: exact)
    }

    /// Ids the commit's closure lacks in the store: trees and blobs (gitlinks excluded). Empty means complete.
    ///
    /// A missing commit is reported as itself; a missing tree is reported without what lies below it (which
    /// cannot be known until it is fetched). A stored tree that does not parse counts as missing.
    public static func missingObjects(commit: ObjectID, in store: ObjectStore) -> [ObjectID] {
        guard let root = try? rootTree(ofCommit: commit, in: store) else { return [commit] }
        var missing: [ObjectID] = []
        var seen: Set<ObjectID> = []
        var trees = [root]
        while let tree = trees.popLast() {
            guard seen.insert(tree).inserted else { continue }
            guard store.contains(tree), let body = try? store.read(tree), let children = TreeObject.decode(body)
            else {
                missing.append(tree)
                continue
            }
            for child in children {
                switch child.mode {
                case .tree: trees.append(child.id)
                case .gitlink: continue
                default:
                    if seen.insert(child.id).inserted && !store.contains(child.id) { missing.append(child.id) }
                }
            }
        }
        return missing
    }

    private static func parseCommit(_ commit: ObjectID, in store: ObjectStore) throws -> CommitObject {
        guard let parsed = CommitObject.parse(try store.read(commit)) else {
            throw SmartSyncError(
                .integrity,
                "the stored object \(commit) is not a commit object (no 'tree' header)",
                hint: "pass a commit id, not a tree or tag"
            )
        }
        return parsed
    }

    /// Appends the entries below `tree` (at `path`) in git's order, each subtree before its contents.
    ///
    /// Iterative (an explicit stack of the trees being listed), so a hostile tree nested thousands deep costs
    /// memory for its paths, never the thread's stack.
    private static func walk(
        _ tree: ObjectID, path: TreePath, commit: ObjectID, in store: ObjectStore, into entries: inout [TreeEntry]
    ) throws {
        var stack = [
            (id: tree, path: path, children: try children(of: tree, at: path, commit: commit, in: store), next: 0)
        ]
        while !stack.isEmpty {
            let top = stack.count - 1
            guard stack[top].next < stack[top].children.count else {
                stack.removeLast()
                continue
            }
            let child = stack[top].children[stack[top].next]
            stack[top].next += 1
            let parent = stack[top].path
            // Names are bytes (any encoding); one that is empty or holds a slash or NUL is no path component.
            guard !child.name.isEmpty, !child.name.contains(0x2F), !child.name.contains(0) else {
                throw SmartSyncError(
                    .unsafePath,
                    "\(shown(parent)) (\(stack[top].id)) of commit \(commit.abbreviated()) has an entry named "
                        + "'\(TreePath(bytes: child.name))', which is not a path component; refusing to sync this tree"
                )
            }
            let childPath = parent.appending(TreePath(bytes: child.name))
            entries.append(TreeEntry(path: childPath, mode: child.mode, id: child.id))
            if child.mode == .tree {
                stack.append(
                    (child.id, childPath, try children(of: child.id, at: childPath, commit: commit, in: store), 0))
            }
        }
    }

    private static func shown(_ path: TreePath) -> String { path.isEmpty ? "the root tree" : "the tree '\(path)'" }

    /// The decoded entries of the stored tree `tree` at `path`.
    private static func children(
        of tree: ObjectID, at path: TreePath, commit: ObjectID, in store: ObjectStore
    ) throws -> [TreeObject.Child] {
        // Read where it is, absence told by the open (no `lstat` before it: one system call fewer a tree, ~1,000 an
        // update of a 20,000-file tree); a symlink or directory there is not in the store, as `contains` tells.
        guard let (body, _) = try FileSystem.readRegularFileIfPresent(store.path(for: tree)) else {
            throw SmartSyncError(
                .notFound,
                "\(shown(path)) (\(tree)) of commit \(commit.abbreviated()) is not in the store at \(store.root)",
                hint: "fetch it first"
            )
        }
        guard let children = TreeObject.decode(body) else {
            throw SmartSyncError(
                .integrity, "\(shown(path)) (\(tree)) of commit \(commit.abbreviated()) is not a valid tree object")
        }
        return children
    }
}
