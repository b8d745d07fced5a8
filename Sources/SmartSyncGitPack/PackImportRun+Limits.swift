import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// The checks of ``PackLimits`` during one import: the declared count, each object's size before it is written, its
/// id before it is published.
extension PackImportRun {
    /// The header's object count against ``PackLimits/maxObjects``.
    func checkCount(_ count: Int) throws {
        guard count > limits.maxObjects else { return }
        throw PackProblem.refused(
            "it declares \(count) objects, more than the \(limits.maxObjects) that \(limits.asked) can hold")
    }

    /// Takes an object's declared size before it is written: a blob over the filter's limit is refused, and so is
    /// any object that would take the pack past ``PackLimits/maxObjectBytes`` or the run past its budget.
    func charge(_ kind: ObjectKind, size: Int) throws {
        if kind == .blob, let limit = limits.blobSizeLimit, size >= limit {
            throw PackProblem.refused(
                limit == 0
                    ? "it holds a blob (\(size) bytes), but it was asked for without blobs (filter blob:none)"
                    : "it holds a blob of \(size) bytes, but it was asked for with blobs under \(limit) bytes only "
                        + "(filter blob:limit=\(limit))")
        }
        if let most = limits.maxObjectBytes, size > most - objectBytes {
            throw PackProblem.refused(
                "its objects would take more than the \(ByteCount.text(most)) (\(most) bytes) that \(limits.asked) "
                    + "can take: \(objectBytes) bytes stored and a \(kind.rawValue) of \(size) more")
        }
        if let budget, !budget.take(size) {
            throw PackProblem.refused(
                "a \(kind.rawValue) of \(size) bytes would take this run past the \(ByteCount.text(budget.limit)) "
                    + "(\(budget.limit) bytes) it may add to the store (--max-download; \(budget.used) bytes taken)",
                code: .limitExceeded, hint: "raise --max-download if the repository is really this large")
        }
        objectBytes += size
    }

    /// An object just written, against ``PackLimits/Contents/only(_:)``: one not asked for is dropped (never
    /// published) and refused.
    func admit(_ id: ObjectID, _ kind: ObjectKind) throws {
        guard case .only(let wanted) = limits.contents, !wanted.contains(id) else { return }
        batch.drop(id)
        throw PackProblem.refused(
            "it holds \(kind.rawValue) \(id), which is not one of the \(wanted.count) objects asked for")
    }

    /// For ``PackLimits/Contents/reachable(from:history:)``: drops the waiting objects the commits do not reach and
    /// returns them. Trees are read from the batch or the store; an object under a tree that is in neither (a pack
    /// cut short) cannot be shown to belong and is dropped too.
    ///
    /// The trees this pack brought are read first, those the store had only once they are all read and some object
    /// is still unaccounted for; the walk stops as soon as none is. An update's pack (`have` the commit the target
    /// has) brings the trees on the way to what changed, and what changed lies below them: its few trees are read,
    /// not the thousands of the tree it leaves as they were (which a walk in tree order read until the last changed
    /// path was reached: most of a 12-file update's import at 20,000 files). An object the store already has is never
    /// waiting (the batch drops it), so a pack that resends one holds nothing open; what makes the walk read the
    /// store's trees is a waiting object below them, as the blobs of a commit's pack after a `plan` stored its trees:
    /// then the stored trees are read until the last of those objects is reached, up to all of them as before.
    @discardableResult
    func dropUnreachable() -> [ObjectID] {
        guard case .reachable(let commits, let history) = limits.contents else { return [] }
        var unaccounted = Set(batch.pendingIDs)
        var commitsLeft = commits
        var seen = Set<ObjectID>()
        var brought: [ObjectID] = []  // trees of this pack, walked first
        var stored: [ObjectID] = []  // trees the store had: walked only while objects are unaccounted for
        func push(_ tree: ObjectID) {
            if batch.isPending(tree) { brought.append(tree) } else { stored.append(tree) }
        }
        while let commit = commitsLeft.popLast() {
            guard seen.insert(commit).inserted else { continue }
            unaccounted.remove(commit)
            guard let body = read(commit), let parsed = CommitObject.parse(body) else { continue }
            push(parsed.tree)
            // Parents count only when the fetch asked for history, and only those this pack brought.
            if history { commitsLeft += parsed.parents.filter { batch.isPending($0) } }
        }
        while !unaccounted.isEmpty, let tree = brought.popLast() ?? stored.popLast() {
            guard seen.insert(tree).inserted else { continue }
            unaccounted.remove(tree)
            guard let body = read(tree), let children = TreeObject.decode(body) else { continue }
            for child in children {
                switch child.mode {
                case .tree: push(child.id)
                case .gitlink: continue
                default: unaccounted.remove(child.id)
                }
            }
        }
        let strays = unaccounted.sorted()
        for id in strays { batch.drop(id) }
        report.objects -= strays.count
        return strays
    }

    /// The refusal for objects ``dropUnreachable()`` found, if any.
    func unreachableFailure(_ strays: [ObjectID]) -> SmartSyncError? {
        guard let first = strays.first, case .reachable(let commits, _) = limits.contents else { return nil }
        let what = commits.count == 1 ? "commit \(commits[0])" : "the \(commits.count) commits asked for"
        let kind = provided[first].map { $0.rawValue + " " } ?? ""
        return SmartSyncError(
            .malformedResponse,
            "the pack \(path) was refused: it holds \(strays.count) object\(strays.count == 1 ? "" : "s") that "
                + "\(what) does not reach (the first: \(kind)\(first)); they were not stored. The \(report.objects) "
                + "objects asked for are verified by their ids and kept")
    }

    /// An object's bytes from the batch or the store; nil when it is in neither.
    private func read(_ id: ObjectID) -> [UInt8]? {
        (try? FileSystem.readRegularFileIfPresent(batch.readablePath(for: id)))??.bytes  // never through a symlink
    }
}
