import Foundation
import TestSupport

/// The nginx configuration of the fleet test, read from docs/MIRROR.md "Behind a cache": the blocks operators copy
/// (each after a `<!-- recipe: NAME -->` marker), with only the origin's address (`origin.example`), the cache's
/// `listen 80`, its directory (`/var/cache/nginx/mirror`) and the refs micro-cache's `10s` replaced.
/// tools/benchlib/fleet.py reads the same blocks the same way; `MirrorCacheRecipeTests` checks both against the doc.
struct FleetNginx: Sendable {
    /// The access log: what the tests count (`$request_uri $status $body_bytes_sent`).
    static let logFormat = "$request_uri $status $body_bytes_sent"
    /// Where the blocks are.
    static let documentPath = SmartSyncBinary.packageRoot + "/docs/MIRROR.md"

    /// Inside the origin's `server { }`: the `Cache-Control` headers of the mirror served at `/mirror/`.
    let origin: String
    /// Inside `http { }`: the cache's `proxy_cache_path` and `server { }` (`listen 80`, proxying `origin.example`).
    let cache: String
    /// The two `location`s that micro-cache `refs` and `refs.sig` for 10 s, in place of the cache's pass-through ones.
    let refsMicroCache: String

    /// The blocks of `document` (docs/MIRROR.md's text).
    init(document: String) throws {
        origin = try Self.block("nginx-origin", in: document)
        cache = try Self.block("nginx-cache", in: document)
        refsMicroCache = try Self.block("nginx-cache-refs", in: document)
    }

    /// The blocks of docs/MIRROR.md.
    static func fromDocs() throws -> FleetNginx {
        guard let document = TestFiles.read(documentPath) else {
            throw TestSupportError(description: "cannot read \(documentPath)")
        }
        return try FleetNginx(document: document)
    }

    /// The cache's block as an operator would deploy it: listening on `listen` (`127.0.0.1:PORT`), proxying `origin`
    /// (`host:port`), storing in `directory`; `refs` and `refs.sig` passed through (`refsCache` nil) or micro-cached
    /// for `refsCache` seconds.
    func cacheConfig(listen: String, origin: String, directory: String, refsCache: Int? = nil) throws -> String {
        var text = cache
        if let seconds = refsCache {
            var lines = text.components(separatedBy: "\n")
            let passing = lines.indices.filter {
                lines[$0].drop { $0 == " " }.hasPrefix("location = /mirror/refs")
            }
            guard passing.count == 2, passing[1] == passing[0] + 1 else {
                throw Self.changed("nginx-cache", "expected two adjacent `location = /mirror/refs…` lines")
            }
            let indent = String(lines[passing[0]].prefix { $0 == " " })
            let refs = try Self.replacing(
                "proxy_cache_valid 200 10s;", "proxy_cache_valid 200 \(seconds)s;",
                in: refsMicroCache, "nginx-cache-refs")
            lines.replaceSubrange(
                passing[0]...passing[1],
                with: refs.components(separatedBy: "\n").map {
                    $0.isEmpty ? $0 : indent + $0
                })
            text = lines.joined(separator: "\n")
        }
        text = try Self.replacing("listen 80;", "listen \(listen);", in: text, "nginx-cache")
        text = try Self.replacing("http://origin.example/", "http://\(origin)/", in: text, "nginx-cache")
        return try Self.replacing("/var/cache/nginx/mirror", directory, in: text, "nginx-cache")
    }

    /// `cacheConfig` split for ``NginxServer``, which writes its own `server { listen …; }`: the lines before the
    /// block's `server {` (for `httpConfig`) and the server's body without its `listen` (for `serverConfig`).
    func cacheForNginxServer(origin: String, directory: String, refsCache: Int? = nil) throws
        -> (http: String, server: String)
    {
        let lines = try cacheConfig(listen: "LISTEN", origin: origin, directory: directory, refsCache: refsCache)
            .components(separatedBy: "\n")
        guard let open = lines.firstIndex(of: "server {"), let close = lines.lastIndex(of: "}"), open < close else {
            throw Self.changed("nginx-cache", "no `server {` … `}` at the block's top level")
        }
        let body = lines[(open + 1)..<close].filter { $0.trimmingCharacters(in: .whitespaces) != "listen LISTEN;" }
        return (lines[..<open].joined(separator: "\n"), body.joined(separator: "\n"))
    }

    /// The fenced block after `<!-- recipe: NAME -->`, its common indentation removed.
    static func block(_ name: String, in document: String) throws -> String {
        let lines = document.components(separatedBy: "\n")
        let marker = "<!-- recipe: \(name) -->"
        guard let at = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == marker }) else {
            throw TestSupportError(description: "docs/MIRROR.md has no \(marker)")
        }
        guard at + 1 < lines.count, lines[at + 1].trimmingCharacters(in: .whitespaces) == "```nginx",
            let end = lines[(at + 2)...].firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "```" })
        else {
            throw TestSupportError(description: "docs/MIRROR.md: no closed ```nginx block right after \(marker)")
        }
        let body = lines[(at + 2)..<end]
        let indent = body.filter { !$0.allSatisfy(\.isWhitespace) }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return body.map { String($0.dropFirst(min(indent, $0.count))) }.joined(separator: "\n")
    }

    private static func replacing(_ old: String, _ new: String, in text: String, _ name: String) throws -> String {
        guard text.contains(old) else { throw changed(name, "no `\(old)`") }
        return text.replacingOccurrences(of: old, with: new)
    }

    private static func changed(_ name: String, _ what: String) -> TestSupportError {
        TestSupportError(
            description: "docs/MIRROR.md's \(name) block: \(what); the fleet test (FleetNginx.swift) and "
                + "tools/benchlib/fleet.py template it: update all three together")
    }
}
