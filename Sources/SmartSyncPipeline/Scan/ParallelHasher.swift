import Foundation
import SmartSyncGitObjects
import Synchronization

/// Hashes files of a tree as git blobs on several threads: each worker takes a contiguous run of the (sorted) paths
/// and opens them by descriptor from the root (``TreeReader``: no symlink followed on the way), so neighbouring files
/// share their directory lookups.
struct ParallelHasher: Sendable {
    let root: String
    let files: [(path: TreePath, size: Int)]

    /// The blob id of each file, in order, with the `fstat` of what was hashed; nil for a file that is gone or is no
    /// longer a regular file. The first other failure (unreadable) is thrown.
    func hash(workers: Int) throws -> [(id: ObjectID, stat: stat)?] {
        let workers = max(1, min(workers, files.count))
        let results = Results(count: files.count)
        let chunk = (files.count + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let range = (worker * chunk)..<min(files.count, (worker + 1) * chunk)
            guard !range.isEmpty else { return }
            do {
                let reader = try TreeReader(root: root)
                for i in range { results.set(i, try reader.hashFile(files[i].path)) }
            } catch {
                results.fail(error)
            }
        }
        return try results.collect()
    }

    /// Each slot written by exactly one worker; read only after every worker has finished.
    private final class Results: @unchecked Sendable {
        private let slots: UnsafeMutableBufferPointer<(id: ObjectID, stat: stat)?>
        private let failure = Mutex<(any Error)?>(nil)

        init(count: Int) {
            slots = .allocate(capacity: count)
            slots.initialize(repeating: nil)
        }

        deinit {
            slots.deinitialize()
            slots.deallocate()
        }

        func set(_ i: Int, _ value: (id: ObjectID, stat: stat)?) { slots[i] = value }

        func fail(_ error: any Error) {
            failure.withLock { if $0 == nil { $0 = error } }
        }

        func collect() throws -> [(id: ObjectID, stat: stat)?] {
            if let error = failure.withLock({ $0 }) { throw error }
            return Array(slots)
        }
    }
}
