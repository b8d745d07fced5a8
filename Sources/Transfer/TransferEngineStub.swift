// Temporary stand-in until the curl multi engine lands; deleted on merge.
public final class TransferEngine: Sendable {
    public init(configuration: TransferConfiguration) throws {}
    public func perform(_ request: TransferRequest) async throws -> TransferResponse { fatalError("stub") }
    public func shutdown() {}
    public var statistics: TransferStatistics { TransferStatistics() }
}
