import SmartSyncCore
import SmartSyncGitObjects

/// What a git server's `upload-pack` offers under protocol v2: its capability advertisement
/// (`GET {repo}/info/refs?service=git-upload-pack` with `Git-Protocol: version=2`).
///
/// Codable so a caller can keep it between runs and skip the advertisement round trip.
public struct UploadPackCapabilities: Sendable, Codable, Equatable {
    /// The server's `agent=` value, if it advertised one.
    public var agent: String?
    /// The features after `ls-refs=` (e.g. `unborn`); nil when `ls-refs` is not offered at all.
    public var lsRefs: Set<String>?
    /// The features after `fetch=` (e.g. `shallow`, `filter`, `ref-in-want`, `wait-for-done`); nil when `fetch` is
    /// not offered at all.
    public var fetch: Set<String>?
    /// The `object-format=` value (`sha1`, `sha256`); nil when not advertised (which means SHA-1).
    public var objectFormat: String?
    /// Whether `server-option` is advertised.
    public var serverOption: Bool
    /// Every other capability line, verbatim (`object-info`, `bundle-uri`, ...).
    public var other: [String]

    public init(
        agent: String? = nil, lsRefs: Set<String>? = nil, fetch: Set<String>? = nil, objectFormat: String? = nil,
        serverOption: Bool = false, other: [String] = []
    ) {
        self.agent = agent
        self.lsRefs = lsRefs
        self.fetch = fetch
        self.objectFormat = objectFormat
        self.serverOption = serverOption
        self.other = other
    }

    /// Whether the `fetch` command is offered.
    public var supportsFetch: Bool { fetch != nil }
    /// Whether `fetch` takes `shallow`, `deepen` and friends.
    public var supportsShallow: Bool { fetch?.contains("shallow") ?? false }
    /// Whether `fetch` takes `filter` (partial clone).
    public var supportsFilter: Bool { fetch?.contains("filter") ?? false }
    /// Whether `fetch` takes `want-ref` (resolve and fetch in one request).
    public var supportsRefInWant: Bool { fetch?.contains("ref-in-want") ?? false }

    /// Parses a capability advertisement body.
    ///
    /// Accepts the body with or without the `# service=git-upload-pack` preamble (and its flush): git's
    /// `http-backend` leaves it out under v2, other servers send it.
    ///
    /// - Throws: `.sourceUnavailable` when the body is a protocol v0/v1 ref advertisement (no `version 2` line): the
    ///   server does not speak protocol v2; `.malformedResponse` for broken framing.
    public static func parse(advertisement body: [UInt8], url: String) throws -> UploadPackCapabilities {
        var lines: [String] = []
        var versionLine: [UInt8]?  // the bytes of the line that must say `version 2`, for the message when it does not
        var sawFlush = false
        var decoder = PktLineDecoder()
        try body.withUnsafeBytes { raw in
            try decoder.feed(raw) { packet in
                switch packet {
                case .data(let payload):
                    lines.append(payload.pktText)
                    if versionLine == nil, !payload.starts(with: "# service=".utf8) {
                        versionLine = Array(payload.pktLine)
                    }
                case .flush: sawFlush = true
                case .delim, .responseEnd: break
                }
            }
        }
        if lines.first?.hasPrefix("# service=") == true { lines.removeFirst() }
        guard lines.first == "version 2" else {
            let seen = versionLine.map { "'\(EscapedText.excerpt(bytes: $0, limit: 60))'" } ?? "nothing"
            throw SmartSyncError(
                .sourceUnavailable,
                "\(url) does not speak git protocol v2 (its advertisement starts with \(seen), not 'version 2'); "
                    + "the per-blob path has to be used for this server", cause: ProtocolUnsupported(url: url))
        }
        guard sawFlush, decoder.isAtBoundary else {
            throw SmartSyncError(
                .malformedResponse, "the capability advertisement from \(url) is cut short (no closing flush packet)")
        }
        var capabilities = UploadPackCapabilities()
        for line in lines.dropFirst() {
            let (key, value) = split(line)
            switch key {
            case "agent": capabilities.agent = value
            case "ls-refs": capabilities.lsRefs = features(value)
            case "fetch": capabilities.fetch = features(value)
            case "object-format": capabilities.objectFormat = value
            case "server-option": capabilities.serverOption = true
            default: capabilities.other.append(line)
            }
        }
        return capabilities
    }

    private static func split(_ line: String) -> (String, String?) {
        guard let eq = line.firstIndex(of: "=") else { return (line, nil) }
        return (String(line[..<eq]), String(line[line.index(after: eq)...]))
    }

    private static func features(_ value: String?) -> Set<String> {
        Set((value ?? "").split(separator: " ").map(String.init))
    }
}

/// One ref as `ls-refs` lists it.
public struct RemoteRef: Sendable, Equatable {
    /// The full ref name (`refs/heads/main`, `refs/tags/v1`, `HEAD`).
    public var name: String
    /// What the ref points at (a tag object's id for an annotated tag).
    public var id: ObjectID
    /// For an annotated tag, the object it finally points at (`peeled:`).
    public var peeled: ObjectID?
    /// For a symbolic ref (`HEAD`), the ref it points at (`symref-target:`).
    public var symrefTarget: String?

    public init(name: String, id: ObjectID, peeled: ObjectID? = nil, symrefTarget: String? = nil) {
        self.name = name
        self.id = id
        self.peeled = peeled
        self.symrefTarget = symrefTarget
    }

    /// The commit (or other object) the ref ends at: ``peeled`` when present, else ``id``.
    public var target: ObjectID { peeled ?? id }

    /// Parses one `ls-refs` output line: `<oid> <name>( symref-target:<ref>| peeled:<oid>)*`.
    /// Returns nil for an `unborn` line.
    /// Parsed from the line's bytes (`line`, without its `\n`), split at spaces, each field decoded; a malformed field
    /// is quoted from its bytes (`EscapedText.excerpt(bytes:)`: invalid UTF-8 as `\xNN`).
    static func parse(_ line: some Collection<UInt8>, url: String) throws -> RemoteRef? {
        let raw = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        let fields = raw.map { String(decoding: $0, as: UTF8.self) }
        guard fields.count >= 2 else {
            throw SmartSyncError(
                .malformedResponse, "ls-refs from \(url) sent the line '\(EscapedText.excerpt(bytes: line))'")
        }
        if fields[0] == "unborn" { return nil }
        guard let id = ObjectID(hex: fields[0]) else {
            throw SmartSyncError(
                .malformedResponse,
                "ls-refs from \(url) sent '\(EscapedText.excerpt(bytes: raw[0]))' where an object id was expected"
            )
        }
        var ref = RemoteRef(name: fields[1], id: id)
        for (attribute, bytes) in zip(fields, raw).dropFirst(2) {
            if attribute.hasPrefix("symref-target:") {
                ref.symrefTarget = String(attribute.dropFirst("symref-target:".count))
            } else if attribute.hasPrefix("peeled:") {
                guard let peeled = ObjectID(hex: attribute.dropFirst("peeled:".count)) else {
                    throw SmartSyncError(
                        .malformedResponse, "ls-refs from \(url) sent a bad '\(EscapedText.excerpt(bytes: bytes))'")
                }
                ref.peeled = peeled
            }
        }
        return ref
    }
}
