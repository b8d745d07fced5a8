import SmartSyncFileSystem
import SmartSyncObjectStore

extension SyncRunner {
    /// Takes the store lock shared, waiting up to ``storeLockWait`` while `gc` holds it (saying so once). A caller
    /// about to run something that takes the lock itself without waiting (a rollback) holds it first through this.
    public func lockStore() async throws -> FileLock {
        let (events, root, wait) = (self.events, store.root, storeLockWait)
        return try await store.lock(shared: true, waitingUpTo: wait) { _ in
            events(.warning("the store at \(root) is being cleaned up (smart-sync gc); waiting up to \(wait) for it"))
        }
    }
}
