import SmartSyncFileSystem

extension ObjectStore {
    /// Takes the store's lock, waiting up to `timeout` for a holder of the other kind to finish (see
    /// ``FileLock/acquire(path:what:shared:waitingUpTo:onWait:)``): a sync that starts while `gc` runs waits for it,
    /// and `gc` waits for the syncs in progress.
    public func lock(shared: Bool, waitingUpTo timeout: Duration, onWait: @Sendable (String) -> Void = { _ in })
        async throws -> FileLock
    {
        try await FileLock.acquire(
            path: root + "/lock", what: "the store at \(root)", shared: shared, waitingUpTo: timeout, onWait: onWait)
    }
}
