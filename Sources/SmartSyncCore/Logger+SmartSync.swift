import Logging

extension Logger {
    /// A logger that drops everything: the default of every library type that takes a `Logger`, so a caller that
    /// wants no log passes nothing and pays for no formatting (a disabled level is checked before a message is built).
    public static let disabled = Logger(label: "smart-sync", factory: { _ in SwiftLogNoOpLogHandler() })

    /// `seconds` as whole milliseconds, the unit of every timing in the log (`ms=`).
    package static func milliseconds(_ seconds: Double) -> Logger.MetadataValue {
        .stringConvertible(Int((seconds * 1000).rounded()))
    }

    /// `duration` as whole milliseconds.
    package static func milliseconds(_ duration: Duration) -> Logger.MetadataValue {
        let (seconds, attoseconds) = duration.components
        return milliseconds(Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// Runs one step of a run and logs at `.debug` how long it took (`stage NAME` with `stage=NAME ms=N`), or that it
    /// failed after that long (`stage NAME failed`), as the caller's module.
    @discardableResult
    package func timed<T>(
        _ stage: String, since started: ContinuousClock.Instant = .now, fileID: String = #fileID,
        _ body: () throws -> T
    ) rethrows -> T {
        do {
            let value = try body()
            logStage(stage, since: started, failed: false, fileID: fileID)
            return value
        } catch {
            logStage(stage, since: started, failed: true, fileID: fileID)
            throw error
        }
    }

    /// The same for an async step. `started`: when the step began, when that was before `body` (a request sent
    /// ahead and awaited now).
    @discardableResult
    package func timed<T>(
        _ stage: String, since started: ContinuousClock.Instant = .now, fileID: String = #fileID,
        _ body: () async throws -> T
    ) async rethrows -> T {
        do {
            let value = try await body()
            logStage(stage, since: started, failed: false, fileID: fileID)
            return value
        } catch {
            logStage(stage, since: started, failed: true, fileID: fileID)
            throw error
        }
    }

    private func logStage(_ stage: String, since started: ContinuousClock.Instant, failed: Bool, fileID: String) {
        guard logLevel <= .debug else { return }
        debug(
            "stage \(stage)\(failed ? " failed" : "")",
            metadata: ["stage": "\(stage)", "ms": Logger.milliseconds(started.duration(to: .now))],
            source: String(fileID.prefix { $0 != "/" }))
    }
}
