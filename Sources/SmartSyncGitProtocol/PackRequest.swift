import SmartSyncCore
import SmartSyncGitObjects

/// What to ask a protocol v2 `fetch` for: one round, ended with `done` (no negotiation).
public struct PackRequest: Sendable {
    /// Objects (usually commits) the pack must make reachable.
    public var wants: [ObjectID]
    /// Refs to want by name (`want-ref`; needs ``UploadPackCapabilities/supportsRefInWant``). The server answers
    /// with their ids in ``PackResponse/wantedRefs``.
    public var wantRefs: [String] = []
    /// Objects the caller already has: the server leaves them (and what they reach) out.
    public var haves: [ObjectID]
    /// The caller's shallow boundary commits (what its shallow clone was cut at).
    public var shallows: [ObjectID]
    /// `deepen N`: history depth from the wants (1: the commits alone).
    public var deepen: Int?
    /// A partial-clone filter: `blob:none`, `blob:limit=1048576`, `tree:0`, ...
    public var filter: String?
    /// Allow deltas against objects the pack leaves out (those in ``haves``).
    public var thinPack = true
    /// Allow offset deltas (smaller than ref deltas).
    public var ofsDelta = true
    /// Ask the server not to send progress messages.
    public var noProgress = true

    public init(
        wants: [ObjectID], haves: [ObjectID] = [], shallows: [ObjectID] = [], deepen: Int? = nil,
        filter: String? = nil
    ) {
        self.wants = wants
        self.haves = haves
        self.shallows = shallows
        self.deepen = deepen
        self.filter = filter
    }

    /// The command's arguments, one per pkt-line (without the `\n`), checked against what the server offers.
    func arguments(capabilities: UploadPackCapabilities, url: String) throws -> [String] {
        guard !wants.isEmpty || !wantRefs.isEmpty else {
            throw SmartSyncError(.invalidArgument, "a fetch from \(url) needs at least one want")
        }
        if !wantRefs.isEmpty && !capabilities.supportsRefInWant {
            throw SmartSyncError(
                .sourceUnavailable, "\(url) does not offer 'ref-in-want'", hint: "resolve the ref with ls-refs first")
        }
        if (deepen != nil || !shallows.isEmpty) && !capabilities.supportsShallow {
            throw SmartSyncError(.sourceUnavailable, "\(url) does not offer shallow fetches ('fetch=shallow')")
        }
        if filter != nil && !capabilities.supportsFilter {
            throw SmartSyncError(.sourceUnavailable, "\(url) does not offer partial fetches ('fetch=filter')")
        }
        if let deepen, deepen < 1 {
            throw SmartSyncError(.invalidArgument, "deepen must be at least 1 (got \(deepen))")
        }
        for text in wantRefs + [filter].compactMap({ $0 }) where text.contains(where: { $0 == "\n" || $0 == "\0" }) {
            throw SmartSyncError(.invalidArgument, "'\(text)' cannot be sent in a fetch request")
        }
        var lines: [String] = []
        if thinPack { lines.append("thin-pack") }
        if noProgress { lines.append("no-progress") }
        if ofsDelta { lines.append("ofs-delta") }
        lines += shallows.map { "shallow \($0.hex)" }
        if let deepen { lines.append("deepen \(deepen)") }
        if let filter { lines.append("filter \(filter)") }
        lines += wants.map { "want \($0.hex)" }
        lines += wantRefs.map { "want-ref \($0)" }
        lines += haves.map { "have \($0.hex)" }
        lines.append("done")
        return lines
    }
}

/// The most bytes a fetch response may bring, and what that bound comes from (for the message when it is passed).
public struct ResponseLimit: Sendable, Equatable {
    /// Response body bytes (the pack with its pkt-line and side-band framing).
    public var bytes: Int
    /// What the request asked for, as in "more than the 1 MiB that <reason> can take".
    public var reason: String

    public init(bytes: Int, reason: String) {
        self.bytes = bytes
        self.reason = reason
    }
}

/// What a ``UploadPackClient/fetch(_:spoolTo:packProgress:limit:)`` brought besides the pack itself.
public struct PackResponse: Sendable {
    /// Commits the server cut history at (`shallow-info`: `shallow <id>`): the caller's new shallow boundary.
    public var shallow: [ObjectID]
    /// Former boundary commits whose parents the pack now brings (`unshallow <id>`).
    public var unshallow: [ObjectID]
    /// The ids of the requested ``PackRequest/wantRefs`` (`wanted-refs`), by ref name.
    public var wantedRefs: [String: ObjectID]
    /// Pack bytes written to the spool file.
    public var packBytes: Int
    /// Bytes of the request body sent.
    public var requestBytes: Int
    /// Response body bytes received (the pack plus its pkt-line and side-band framing).
    public var responseBytes: Int

    public init(
        shallow: [ObjectID] = [], unshallow: [ObjectID] = [], wantedRefs: [String: ObjectID] = [:], packBytes: Int = 0,
        requestBytes: Int = 0, responseBytes: Int = 0
    ) {
        self.shallow = shallow
        self.unshallow = unshallow
        self.wantedRefs = wantedRefs
        self.packBytes = packBytes
        self.requestBytes = requestBytes
        self.responseBytes = responseBytes
    }
}

/// Counters over an ``UploadPackClient``'s life.
public struct UploadPackStatistics: Sendable, Equatable {
    /// HTTP requests made (each retry counts).
    public var requests = 0
    /// Response body bytes received.
    public var bytesReceived = 0
    /// Request body bytes sent.
    public var bytesSent = 0
    /// Connections opened (0 for a request that reused one).
    public var newConnections = 0

    public init() {}
}

extension UploadPackCapabilities {
    /// The body of a v2 command request: `command=`, the capabilities we send, a delimiter, the arguments and a
    /// flush. `agent` and `object-format` are sent only when the server advertised them.
    func commandRequest(_ command: String, arguments: [String], agent: String) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(64 + arguments.count * 50)
        PktLine.append("command=\(command)\n", to: &body)
        if self.agent != nil { PktLine.append("agent=\(agent)\n", to: &body) }
        if objectFormat != nil { PktLine.append("object-format=sha1\n", to: &body) }
        body += PktLine.delim
        for argument in arguments { PktLine.append(argument + "\n", to: &body) }
        body += PktLine.flush
        return body
    }

    /// Refuses what the client cannot use: no v2 command `command`, or an object format other than SHA-1.
    func check(command: String, url: String) throws {
        if let objectFormat, objectFormat != "sha1" {
            throw SmartSyncError(
                .sourceUnavailable,
                "\(url) stores objects with \(objectFormat); smart-sync reads SHA-1 repositories only",
                cause: ProtocolUnsupported(url: url))
        }
        let offered = command == "ls-refs" ? lsRefs != nil : supportsFetch
        guard offered else {
            throw SmartSyncError(
                .sourceUnavailable, "\(url) does not offer the protocol v2 command '\(command)'",
                cause: ProtocolUnsupported(url: url))
        }
    }
}
