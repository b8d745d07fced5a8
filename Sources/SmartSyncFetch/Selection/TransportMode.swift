/// How a GitHub source moves content (`--transport`).
public enum TransportMode: String, Sendable, CaseIterable, Codable {
    /// Git packs when the git host speaks protocol v2 (deltas against what the store has); one request per blob for
    /// blobs over the size threshold, and for everything when the pack path is unavailable or fails.
    case auto
    /// Git packs only: fail rather than fall back.
    case pack
    /// One raw request per changed blob, the tree from the REST API (the only path for raw mirrors).
    case raw
}
