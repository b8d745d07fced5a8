import Dispatch
import FoundationEssentials
import Synchronization

/// Blocking file system work shared out over a few threads: libdispatch's (`DispatchQueue.concurrentPerform`, the
/// calling thread among them), never the Swift cooperative pool's, whose few threads must not wait on `read` or
/// `fstatat`. The scan's hashing (``ParallelHasher``) and its walk (``ScanWalker/walkSplit(rootFD:split:)``) both go
/// through it.
enum ParallelWork {
    /// The most threads either uses: past this the disk and the kernel's locks, not the cores, set the pace.
    static let maximumWorkers = 8

    /// One worker per core the process may use, up to ``maximumWorkers``.
    static var cores: Int { min(ProcessInfo.processInfo.activeProcessorCount, maximumWorkers) }

    /// `body(i)` for each `i` in `0..<count`, on up to `workers` threads, each taking the next index as it becomes
    /// free (one atomic counter: a slow item holds up only its own thread), in the order of `order` when given (a
    /// permutation of the indices: the biggest items first); the results in index order. On the calling thread alone
    /// when there is one worker or one item.
    static func map<T>(count: Int, workers: Int, order: [Int]? = nil, _ body: @Sendable (Int) -> T) -> [T] {
        let workers = max(1, min(workers, count))
        guard workers > 1 else { return (0..<count).map(body) }
        let slots = Slots<T>(count: count)
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let n = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard n < count else { return }
                let i = order?[n] ?? n
                slots.initialize(i, to: body(i))
            }
        }
        return slots.take()
    }

    /// Each slot initialized by exactly one worker; taken only after every worker has finished (the join of
    /// `concurrentPerform` orders the writes before the read).
    private final class Slots<T>: @unchecked Sendable {
        private let storage: UnsafeMutableBufferPointer<T>

        init(count: Int) { storage = .allocate(capacity: count) }

        func initialize(_ i: Int, to value: T) { (storage.baseAddress! + i).initialize(to: value) }

        /// The values, moved out (every slot must have been initialized).
        func take() -> [T] {
            defer { storage.deallocate() }
            return Array(unsafeUninitializedCapacity: storage.count) { buffer, initialized in
                _ = buffer.moveInitialize(fromContentsOf: storage)
                initialized = storage.count
            }
        }
    }
}
