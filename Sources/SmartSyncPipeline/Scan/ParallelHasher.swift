import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// Hashes files of a tree as git blobs on several threads (``ParallelWork``): each worker takes a contiguous run of
/// the (sorted) paths and opens them by descriptor from the root (``TreeReader``: no symlink followed on the way), so
/// neighbouring files share their directory lookups.
struct ParallelHasher: Sendable {
    let root: String
    let files: [(path: TreePath, size: Int)]
    /// Checked before each file: a cancelled scan stops hashing (a cold scan's hashing is most of its time).
    var cancellation: CancellationFlag?

    /// The blob id of each file, in order, with the `fstat` of what was hashed; nil for a file that is gone or is no
    /// longer a regular file. The first other failure in path order (unreadable, or `CancellationError` once the
    /// ``cancellation`` flag is set) is thrown.
    func hash(workers: Int) throws -> [(id: ObjectID, stat: stat)?] {
        let workers = max(1, min(workers, files.count))
        let chunk = (files.count + workers - 1) / workers
        let runs = ParallelWork.map(count: workers, workers: workers) { worker in
            Result { () throws -> [(id: ObjectID, stat: stat)?] in
                let range = (worker * chunk)..<min(files.count, (worker + 1) * chunk)
                guard !range.isEmpty else { return [] }
                let reader = try TreeReader(root: root)
                return try range.map {
                    try cancellation?.check()
                    return try reader.hashFile(files[$0].path)
                }
            }
        }
        var hashed: [(id: ObjectID, stat: stat)?] = []
        hashed.reserveCapacity(files.count)
        for run in runs { hashed += try run.get() }
        return hashed
    }
}
