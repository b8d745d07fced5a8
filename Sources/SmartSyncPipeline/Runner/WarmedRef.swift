import SmartSyncFetch

/// One ref that `warm` brought into the store, with what that ref alone cost.
public struct WarmedRef: Sendable {
    /// The ref and the commit it named.
    public var resolved: ResolvedRef
    /// The blobs and bytes its fetch brought.
    public var report: FetchReport
    /// Its blobs, and those the store lacked.
    public var plan: PlanSummary
    /// The requests and bytes of this ref only (resolve, listing and fetch), not the run's totals.
    public var requests: SourceStatistics
    /// Wall time of this ref's resolve, listing, fetch and pin.
    public var seconds: Double
}
