#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Paths a sync never touches, from `--exclude GLOB` (repeatable).
///
/// Rules, kept deliberately simple:
/// - Globs use `fnmatch(3)` with `FNM_PATHNAME`: `*`, `?` and `[...]` never match a `/`. `**` is not special
///   (it behaves like `*`).
/// - A glob **without** a `/` matches any single path component, at any depth: `*.log` excludes `a.log` and
///   `dir/b.log`; `node_modules` excludes every directory of that name and all below it.
/// - A glob **with** a `/` is anchored at the target root (a leading `/` is allowed and ignored) and matches the
///   whole path or any leading directory prefix: `secrets/*` excludes `secrets/a` and `secrets/a/b`.
///
/// Excluding a directory excludes everything below it.
public struct ExcludeSet: Sendable, Hashable, Codable {
    /// The globs as given.
    public private(set) var globs: [String]
    private var componentGlobs: [String] = []
    private var anchoredGlobs: [String] = []

    public init(_ globs: [String] = []) {
        self.globs = []
        for g in globs { add(g) }
    }

    /// Adds one glob.
    public mutating func add(_ glob: String) {
        guard !glob.isEmpty else { return }
        globs.append(glob)
        var g = Substring(glob)
        while g.hasSuffix("/") { g = g.dropLast() }
        if g.contains("/") {
            while g.hasPrefix("/") { g = g.dropFirst() }
            anchoredGlobs.append(String(g))
        } else if !g.isEmpty {
            componentGlobs.append(String(g))
        }
    }

    /// True when there is nothing to exclude.
    public var isEmpty: Bool { globs.isEmpty }

    /// Whether `path` (relative, `/`-separated) or one of its leading directories is excluded.
    public func matches(_ path: String) -> Bool {
        if globs.isEmpty { return false }
        var end = path.startIndex
        while true {
            let next = path[end...].firstIndex(of: "/") ?? path.endIndex
            let component = path[end..<next]
            let prefix = path[..<next]
            if matchesOne(component: component, prefix: prefix) { return true }
            if next == path.endIndex { return false }
            end = path.index(after: next)
        }
    }

    /// Whether the entry `name` whose full relative path is `path` is excluded, assuming its parents are not.
    /// This is what a directory walk calls: one check per entry instead of one per prefix.
    func matchesLast(path: String, name: Substring) -> Bool {
        if globs.isEmpty { return false }
        return matchesOne(component: name, prefix: path[...])
    }

    private func matchesOne(component: Substring, prefix: Substring) -> Bool {
        for g in componentGlobs where fnmatch(g, String(component), 0) == 0 { return true }
        for g in anchoredGlobs where fnmatch(g, String(prefix), FNM_PATHNAME) == 0 { return true }
        return false
    }

    enum CodingKeys: String, CodingKey { case globs }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try c.decode([String].self, forKey: .globs))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(globs, forKey: .globs)
    }
}
