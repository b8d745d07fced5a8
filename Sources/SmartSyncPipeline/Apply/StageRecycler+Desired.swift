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
        var last: Int?  // the index of the last file passed there
        var desired = PathTable<TreeEntry>()  // the plan is in path order: appended
        let changes = plan.changes
        desired.reserveCapacity(changes.count)
        // Fields read in place (`changes[i].kind`): a copy of each `Change` retains and releases its strings. That
        // saves little here (3 %): the cost is the table's appends and the path compares, not the element reads.
        for i in changes.indices where StagedSwitchApplier.writesTreeFile(changes[i].kind) {
            guard let mode = changes[i].mode, let id = changes[i].id, mode.isBlob else { continue }
            let path = changes[i].path
            var size: Int??  // nil: not found in order
            while sizes == nil, size == nil, next < entries.count {
                guard entries[next].mode.isBlob else {
                    next += 1
                    continue
                }
                if let last, !(entries[last].path < entries[next].path) { break }  // out of order
                if !(entries[next].path < path) {
                    if entries[next].path == path && entries[next].id == id { size = .some(entries[next].size) }
                    break
                }
                last = next
                next += 1
            }
            if size == nil && sizes == nil {
                var table: [ObjectID: Int] = [:]
                for e in entries where e.mode.isBlob { table[e.id] = e.size }
                sizes = table
            }
            desired.append(path, TreeEntry(path: path, mode: mode, id: id, size: size ?? sizes?[id]))
        }
        return desired
    }
}
