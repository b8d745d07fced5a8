import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// Carries what is not smart-sync's from one tree into another before they are exchanged, so a switch never takes an
/// operator's files, or their directories' metadata, away:
///
/// - untracked files, kept local edits and excluded paths (whole subtrees) are hard-linked across (the inodes are
///   shared; nothing is copied, and the kept generation still has them too);
/// - a directory the new tree does not have is recreated around what is carried inside it (an empty one is the
///   operator's and is kept);
/// - every directory both trees have, the root included, gets the source directory's owner, group, mode, ACLs and
///   extended attributes (``DirectoryMetadata``), as does every directory recreated; a destination directory that
///   has them already is not written. A directory of the destination whose metadata is of another time
///   (``unsettled``) and that the source lacks gets a new directory's.
///
/// What each path of the source is comes from ``rules``, read by one forward cursor: the walk visits the source's
/// paths in byte order (``SortedDirectory/steps(count:name:descends:)``, each directory's entries ordered by the type
/// `readdir` reports), so a path's rule is found without a search, and a file of the new tree is passed over without
/// a `stat`. An entry whose type changed since `readdir` (a file that became a directory: its contents are then out
/// of order) is walked with a copy of the cursor, the walk's own left where it was.
///
/// Given what the run's scan saw of the source (``scanned``), a directory of both trees that is unchanged since the
/// scan (``ScannedDirectories/isUnchanged(_:_:)``) and held nothing to carry (no path of it is ``Rule/carry`` or
/// ``Rule/carryWhole``) is not listed: its subdirectories are the scan's, walked into as any, and it is only given
/// the source's metadata. Its `fstat` is the one that metadata needs: no call is added, and `fdopendir`, the
/// `getdents64` calls and the per-entry ordering and lookups of the listing are saved (most directories of a tree).
///
/// Both trees are walked by directory descriptor with `O_NOFOLLOW` (a symlink planted in place of a directory is
/// carried as the symlink it is, never followed), and names are bytes.
struct UntrackedCarrier {
    /// What the carrier does with a path of the source tree.
    enum Rule: Sendable {
        /// Carried: a file, symlink or special file is hard-linked across (a directory is walked into, as any).
        case carry
        /// Carried whole, without looking inside (an excluded path: a file or a subtree).
        case carryWhole
        /// A file of the destination's own tree: passed over without a look (no `stat`) when the directory entry
        /// says it is not a directory.
        case treeFile
        /// Not carried (a file the new tree deletes, a blocked path, a submodule): looked at only to tell a directory,
        /// which is walked into as any.
        case leave

        /// The rule for a path of a staged switch's plan, by its kind: the operator's files (untracked, and kept
        /// local edits, which are conflicts) are carried, excluded paths whole, and the new tree's files skipped.
        init(_ kind: Change.Kind) {
            switch kind {
            case .untracked, .conflict: self = .carry
            case .excluded: self = .carryWhole
            default: self = StagedSwitchApplier.writesTreeFile(kind) ? .treeFile : .leave
            }
        }
    }

    /// The rule of each path the source is known to hold.
    let rules: PathTable<Rule>
    /// The rule of a path ``rules`` does not name (one that appeared in the source since it was scanned).
    var unlisted: Rule = .carry
    /// Whether a carried file replaces a non-directory already at its path in the destination (rollback: the
    /// operator's current version wins over the one the generation kept; ``carryChanges(from:into:)``: over the one
    /// carried before), an excluded subtree's files included.
    var replaceExisting = false
    /// Whether an operator's entry that changed type since the carry before (``carryChanges(from:into:)``: a file
    /// carried then that is a directory now, or the reverse; a file made where the new tree has a directory) is a
    /// `.conflict` that fails the run before the exchange, the target untouched: the destination's entry cannot be
    /// told from the new tree's for sure, and passing over it would lose the operator's (or bring back the old).
    var conflictOnRetype = false
    /// Whether an entry of the destination that the source no longer has is removed when the carry before put it
    /// there (``carryChanges(from:into:)``: the operator deleted or renamed it since; left, it would come back with the
    /// new tree). Only in a directory the walk lists, and only what no file of the new tree can be: a path whose
    /// rule is ``Rule/carry`` or ``Rule/carryWhole``, or one ``rules`` does not name with nothing below it of another
    /// rule (the new tree's files are all named, as ``Rule/treeFile``; a directory of it holds one), such as what is
    /// inside an excluded subtree. Unless ``outgoingKept``, a file still linked elsewhere waits for the walk's end
    /// (``Drops``): the operator may have moved it, not deleted it. Nil: nothing is removed.
    var dropGone: Drops?
    /// Whether the source is kept (as a generation, the outgoing tree of a switch) once the destination replaces it:
    /// then ``dropGone`` drops what the source no longer has as it goes, and a file the operator moved during the walk
    /// into a directory the walk had listed already is in that generation (`restore PATH --generation N`). False
    /// (`--keep-generations 0`, whose prune removes the outgoing tree): such a file would be lost, so one with
    /// another link is dropped only as ``Drops`` says.
    var outgoingKept = true
    /// Directories of the destination whose metadata is of another time (a recycled tree's, ``StageRecycler``; a
    /// generation's brought back, ``Rollback``), in any order (sorted here): each one the source has gets the source
    /// directory's metadata, as any directory both have; the others get a new directory's
    /// (``DirectoryMetadata/reset(_:display:)``) once the walk is done, parents first.
    var unsettled: [TreePath] = []
    /// Called with a source directory's path once its entries and their types are read, before any is carried: the
    /// seam through which a test changes an entry's type between `readdir` and the carrier's look at it.
    var afterReading: ((_ directory: TreePath) -> Void)?
    /// The source's directories as this run's scan saw them, when the source is the target it scanned: a directory
    /// unchanged since and holding nothing to carry is not listed (see above). Nil: every directory is listed.
    var scanned: ScannedDirectories?
    /// How the walk is shared out over threads, as the recycler's (``StageRecycler/Split``, by the count of
    /// ``rules``): the calling thread walks the top of both trees and hands the source's directories at the split's
    /// depth whose parent both trees had (not one it made: that one is removed again when nothing is carried into it,
    /// which needs what is below it first) to workers, each carrying its subtree whole (``Walk/deferred``) from the
    /// parents the calling thread held open (descriptors it duplicated, never reopened by path: what the operator
    /// does to the source meanwhile is met as on one thread). Nil: one thread.
    var split: StageRecycler.Split?

    /// Carries from the tree at `source` into the one at `destination`. Returns how many entries were carried.
    @discardableResult
    func carry(from source: String, into destination: String) throws -> Int {
        let dst = try Self.openRoot(destination)
        defer { close(dst) }
        let src = try Self.openRoot(source)  // the walk takes it over
        do { try DirectoryMetadata.copy(from: src, to: dst, display: destination) } catch {
            close(src)
            throw error
        }
        var walk = Walk(carrier: self, display: destination)
        let workers = split?.workers(files: rules.count) ?? 1
        guard workers > 1, let split else {
            let carried = try walk.walk(src, dst, .root).carried
            try walk.resetUnsettled(in: destination)
            return carried
        }
        walk.deferAt = 0
        walk.shares = split.shares
        defer { for parent in walk.parents { close(parent.src); close(parent.dst) } }
        // Everything the calling thread handed out comes before where it stopped, in path order: one thread would
        // have failed there first. Its own error is thrown only when none of theirs is.
        let top = Result { try walk.walk(src, dst, .root).carried }
        let (deferred, parents) = (walk.deferred, walk.parents)
        let template = Template(walk: walk)
        let parts = ParallelWork.map(count: deferred.count, workers: workers) { k -> Result<Int, any Error> in
            Result {
                let (path, rule, parent) = deferred[k]
                var part = template.walk.part(below: path)
                return try part.carryDeferred(path, rule, from: parents[parent].src, into: parents[parent].dst)
            }
        }
        var carried = 0
        for part in parts { carried += try part.get() }  // the first error in path order
        carried += try top.get()
        try walk.resetUnsettled(in: destination)
        return carried
    }

    /// The calling thread's walk, handed to the workers to start theirs from (only read).
    private struct Template: @unchecked Sendable {
        let walk: Walk
    }

    /// Whether what the destination holds at `path` can only be what a carry put there (``dropGone``): its rule is
    /// ``Rule/carry`` or ``Rule/carryWhole``, or `rules` does not name it and names nothing below it but such paths.
    /// A tool's temporary name is never (it is not carried).
    static func carriedBefore(_ path: TreePath, _ rules: PathTable<Rule>) -> Bool {
        if path.lastComponent.withBytes({ RepoPath.isTemporaryName($0) }) { return false }
        let values = rules.values
        if let i = rules.index(of: path) { return values[i] == .carry || values[i] == .carryWhole }
        return rules.descendants(of: path).allSatisfy { values[$0] == .carry || values[$0] == .carryWhole }
    }

    // MARK: - Descriptor helpers

    static func openRoot(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        return fd
    }

    /// Makes the directory `name` in `dir`, private until it gets its metadata, and opens it (never through a
    /// symlink); -1 on failure.
    static func makeDirectory(_ name: TreePath, in dir: Int32) -> Int32 {
        guard name.withCString({ mkdirat(dir, $0, 0o700) }) == 0 else { return -1 }
        return name.withCString { openat(dir, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    }

    /// A hard link of `name` (a symlink itself, never its target) from one tree into the other.
    static func link(_ src: Int32, _ dst: Int32, _ name: TreePath, display: String) throws {
        guard name.withCString({ linkat(src, $0, dst, $0, 0) }) == 0 else {
            throw SmartSyncError.io("link", path: display)
        }
    }
}
