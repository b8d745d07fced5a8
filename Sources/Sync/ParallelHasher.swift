import Foundation
import GitObjects
import SmartSyncCore

/// Hashes files of a tree as git blobs on several threads: each worker takes a contiguous run of the (sorted) paths
/// and opens them by descriptor from the root (``TreeReader``: no symlink followed on the way), so neighbouring files
/// share their directory lookups.
struct ParallelHasher: Sendable {
    let root: String
    let files: [(path: TreePath, size: Int)]

    /// The blob id of each file, in order. The first failure (a file gone or unreadable) is thrown.
    func hash(workers: Int) throws -> [ObjectID] {
        let workers = max(1, min(workers, files.count))
        let results = Results(count: files.count)
        let chunk = (files.count + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let range = (worker * chunk)..<min(files.count, (worker + 1) * chunk)
            guard !range.isEmpty else { return }
            do {
                let reader = try TreeReader(root: root)
                for i in range {
                    guard let id = try reader.hashFile(files[i].path) else {
                        throw SmartSyncError.io("open", path: reader.display(files[i].path), errno: ENOENT)
                    }
                    results.set(i, id)
                }
            } catch {
                results.fail(error)
            }
        }
        return try results.collect()
    }

    /// Each slot written by exactly one worker; read only after every worker has finished.
    private final class Results: @unchecked Sendable {
        private let ids: UnsafeMutableBufferPointer<ObjectID?>
        private let failure = Locked<(any Error)?>(nil)

        init(count: Int) {
            ids = .allocate(capacity: count)
            ids.initialize(repeating: nil)
        }

        deinit {
            ids.deinitialize()
            ids.deallocate()
        }

        func set(_ i: Int, _ id: ObjectID) { ids[i] = id }

        func fail(_ error: any Error) {
            failure.withLock { if $0 == nil { $0 = error } }
        }

        func collect() throws -> [ObjectID] {
            if let error = failure.withLock({ $0 }) { throw error }
            return ids.map { $0! }
        }
    }
}
