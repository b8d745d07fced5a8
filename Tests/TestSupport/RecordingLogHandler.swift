import Logging
import Synchronization

/// Keeps every log event (message and metadata, rendered) for assertions.
public final class RecordingLogHandler: LogHandler, Sendable {
    private let lines = Mutex<[String]>([])
    private let level = Mutex(Logger.Level.trace)

    public init() {}

    public var logLevel: Logger.Level {
        get { level.withLock { $0 } }
        set { level.withLock { $0 = newValue } }
    }
    public var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    public func log(event: LogEvent) {
        let pairs = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        lines.withLock { $0.append("\(event.level) \(event.message)\(pairs)") }
    }

    public var recorded: [String] { lines.withLock { $0 } }

    /// A logger writing here.
    public var logger: Logger { Logger(label: "test") { _ in self } }
}
