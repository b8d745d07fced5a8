/// The cause an `.integrity` error carries when the damage is in the local store (something no regular file at an
/// object's path), not in what a source sent: a failover does not move on for it (``SmartSyncError/isStoreDamage``),
/// and it is not reported as the source's.
public struct StoreDamage: Error, Sendable, CustomStringConvertible {
    public init() {}

    public var description: String { "damage in the local store" }
}

extension SmartSyncError {
    /// An `.integrity` error for damage in the local store, with the hint to repair it.
    public static func storeDamaged(_ message: String) -> SmartSyncError {
        SmartSyncError(
            .integrity, message,
            hint: "something other than smart-sync wrote into the store; run `smart-sync fsck --repair`",
            cause: StoreDamage())
    }

    /// Whether this is damage in the local store (``storeDamaged(_:)``), a local problem whatever its code.
    public var isStoreDamage: Bool { cause is StoreDamage }
}
