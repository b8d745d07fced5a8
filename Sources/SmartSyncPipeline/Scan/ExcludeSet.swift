import SmartSyncGitObjects

/// Paths a sync never touches, from `--exclude GLOB` (repeatable).
///
/// Rules (the glob dialect is ``PathGlob``'s, shared with validate's checks):
/// - `*`, `?` and `[...]` never match a `/`; `**` does (`local/**/secret` excludes `local/secret` and
///   `local/a/b/secret`).
/// - A glob **without** a `/` matches any single path component, at any depth: `*.log` excludes `a.log` and
///   `dir/b.log`; `node_modules` excludes every directory of that name and all below it.
/// - A glob **with** a `/` is anchored at the target root (a leading `/` is allowed and ignored) and matches the
///   whole path or any leading directory prefix: `secrets/*` excludes `secrets/a` and `secrets/a/b`.
///
/// Excluding a directory excludes everything below it.
public struct ExcludeSet: Sendable, Hashable, Codable {
    /// The globs as given.
    public private(set) var globs: [String]
    private var componentGlobs: [PathGlob] = []
    private var anchoredGlobs: [PathGlob] = []

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
            anchoredGlobs.append(PathGlob(String(g)))
        } else if !g.isEmpty {
            componentGlobs.append(PathGlob(String(g)))
        }
    }

    /// True when there is nothing to exclude.
    public var isEmpty: Bool { globs.isEmpty }

    /// Whether `path` (relative, `/`-separated) or one of its leading directories is excluded. Globs match the
    /// path's bytes, whatever their encoding.
    public func matches(_ path: TreePath) -> Bool {
        if globs.isEmpty { return false }
        return path.withBytes { bytes in
            var start = 0
            while true {
                let next = bytes[start...].firstIndex(of: 0x2F) ?? bytes.endIndex
                let component = UnsafeBufferPointer(rebasing: bytes[start..<next])
                if matchesOne(component: component, prefix: UnsafeBufferPointer(rebasing: bytes[..<next])) { return true }
                if next == bytes.endIndex { return false }
                start = next + 1
            }
        }
    }

    /// Whether the entry whose full relative path has the bytes `path`, the last `nameCount` of them its name, is
    /// excluded, assuming its parents are not. This is what a directory walk calls (before it builds the path): one
    /// check per entry instead of one per prefix.
    func matchesLast(path: UnsafeBufferPointer<UInt8>, nameCount: Int) -> Bool {
        if globs.isEmpty { return false }
        return matchesOne(component: UnsafeBufferPointer(rebasing: path[(path.count - nameCount)...]), prefix: path)
    }

    private func matchesOne(component: UnsafeBufferPointer<UInt8>, prefix: UnsafeBufferPointer<UInt8>) -> Bool {
        componentGlobs.contains { $0.matches(bytes: component) } || anchoredGlobs.contains { $0.matches(bytes: prefix) }
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
