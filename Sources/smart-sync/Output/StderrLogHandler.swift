import FoundationEssentials
import Glibc
import Logging
import SmartSyncCore

/// Writes `-v` log lines to stderr through the ``Reporter``, which clears its live progress line first, so logs and
/// progress never share a line; stdout (`--json`) never sees a log line.
///
/// A line is `TIME LEVEL [module] message key=value …`: the UTC time to the millisecond, the module without its
/// `SmartSync` prefix, the message, then the metadata sorted by key. Nothing the library logs carries a credential
/// (see "Logging" in docs/ARCHITECTURE.md).
struct StderrLogHandler: LogHandler {
    let reporter: Reporter
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var line = Self.timestamp() + " " + event.level.rawValue + " [" + Self.module(event.source) + "] "
        line += event.message.description
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            line += " " + key + "=" + Self.quoted("\(value)")
        }
        reporter.logLine(line)
    }

    /// The logger `-v` (`.debug`) or `-vv` (`.trace`) asks for; without `-v`, warnings and errors only (the library
    /// logs none today: what goes wrong is reported as an error or a warning event).
    static func logger(verbosity: Int, reporter: Reporter) -> Logger {
        let level: Logger.Level = verbosity >= 2 ? .trace : verbosity == 1 ? .debug : .warning
        return Logger(label: "smart-sync") { _ in StderrLogHandler(reporter: reporter, logLevel: level) }
    }

    /// `SmartSyncTransfer` → `transfer`, this executable's own → `cli`; a module outside smart-sync keeps its name.
    static func module(_ source: String) -> String {
        if source == "smart_sync" { return "cli" }
        return source.hasPrefix("SmartSync") ? String(source.dropFirst("SmartSync".count)).lowercased() : source
    }

    /// A value with a space, quote or `=` in quotes (so `key=value` pairs split), as is otherwise.
    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return value }
        return "\"" + value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
            + "\""
    }

    /// `2026-12-06T18:40:01.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return CFormat.string(
            "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int32(now.tv_nsec / 1_000_000))
    }
}
