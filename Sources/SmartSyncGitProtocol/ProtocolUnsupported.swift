/// The cause of an error that says a server cannot serve git protocol v2 at all for us: it speaks an older
/// protocol, is no smart HTTP server, lacks a command we need, or stores objects in a format we do not read.
///
/// A property of the server, not of one request: a caller may remember it (``SmartSyncError/cause`` is this) and
/// stop asking for a while, where other `.sourceUnavailable` errors (a refused fetch, an `ERR` packet) may pass.
public struct ProtocolUnsupported: Error, Sendable, CustomStringConvertible {
    /// The repository URL the server was asked about.
    public var url: String

    public init(url: String) {
        self.url = url
    }

    public var description: String { "\(url) does not serve git protocol v2" }
}
