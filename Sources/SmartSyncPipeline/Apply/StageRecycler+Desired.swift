import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// The tree files a recycled stage must hold.
extension StageRecycler {
    /// The tree files `plan` writes or leaves, in path order, with their sizes from `listing`: read beside the plan
    /// with a forward index while the listing's files come in path order (as git lists a tree: depth first, in tree
    /// order), else from a table by blob (as large as the tree, let go once they are read), made once a file is not
    /// found so.
    static func desired(_ plan: Plan, listing: TreeListing) -> PathTable<TreeEntry> {
        var sizes: [ObjectID: Int]?
        let entries = listing.entries
        var next = 0  // the listing's next entry to look at while it is in path order
        var last: TreePath?  // the last file passed there
        var desired = PathTable<TreeEntry>()  // the plan is in path order: appended
        desired.reserveCapacity(plan.changes.count)
        for c in plan.changes where StagedSwitchApplier.writesTreeFile(c.kind) {
            guard let mode = c.mode, let id = c.id, mode.isBlob else { continue }
            var size: Int??  // nil: not found in order
            while sizes == nil, size == nil, next < entries.count {
                let e = entries[next]
                guard e.mode.isBlob else {
                    next += 1
                    continue
                }
                if let last, !(last < e.path) { break }  // out of order
                if !(e.path < c.path) {
                    if e.path == c.path && e.id == id { size = .some(e.size) }
                    break
                }
                last = e.path
                next += 1
            }
            if size == nil && sizes == nil {
                var table: [ObjectID: Int] = [:]
                for e in entries where e.mode.isBlob { table[e.id] = e.size }
                sizes = table
            }
            desired.append(c.path, TreeEntry(path: c.path, mode: mode, id: id, size: size ?? sizes?[id]))
        }
        return desired
    }
}
