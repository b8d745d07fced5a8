import GitObjects
import Glibc
import Sync

/// Globs over a target, relative to it: `*`, `?` and `[...]` within one path component, `**` across
/// components (`modules/**.nix`). Hidden names need an explicit `.`; `.git` is never entered.
struct Glob: Sendable, Equatable {
    let pattern: String

    /// True when `pattern` has no glob characters.
    var isLiteral: Bool { !pattern.contains(where: { "*?[".contains($0) }) }

    /// True when the relative path `path` matches (its bytes, whatever their encoding).
    func matches(_ path: TreePath) -> Bool {
        if pattern.contains("**") {
            // fnmatch has no `**`: without FNM_PATHNAME, `*` crosses `/`.
            let single = pattern.replacingAll("**", with: "*")
            return path.withCString { fnmatch(single, $0, FNM_PERIOD) } == 0
        }
        return path.withCString { fnmatch(pattern, $0, FNM_PATHNAME | FNM_PERIOD) } == 0
    }

    /// The entries below `root` that match, in byte order, with their `lstat`: walked by directory descriptor,
    /// symlinks listed and never followed, `.git` never entered.
    func expand(in root: String) throws -> [(path: TreePath, stat: stat)] {
        let editor = TreeEditor(root: root)
        if isLiteral {
            return try TreeReader(root: root).status(TreePath(pattern)).map { [(TreePath(pattern), $0)] } ?? []
        }
        // Walk only below the pattern's literal leading directories.
        var components = pattern.split(separator: "/").map(String.init)
        var base: [String] = []
        while components.count > 1, !components[0].contains(where: { "*?[".contains($0) }) {
            base.append(components.removeFirst())
        }
        var out: [(path: TreePath, stat: stat)] = []
        try editor.walk(under: TreePath(base.joined(separator: "/"))) { path, st in
            if matches(path) { out.append((path, st)) }
            return true
        }
        return out
    }
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation needed).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
