#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Globs over a target, relative to it: `*`, `?` and `[...]` within one path component, `**` across
/// components (`modules/**.nix`). Hidden names need an explicit `.`; `.git` is never entered.
struct Glob: Sendable, Equatable {
    let pattern: String

    /// True when `pattern` has no glob characters.
    var isLiteral: Bool { !pattern.contains(where: { "*?[".contains($0) }) }

    /// True when the relative path `path` matches.
    func matches(_ path: String) -> Bool {
        if pattern.contains("**") {
            // fnmatch has no `**`: without FNM_PATHNAME, `*` crosses `/`.
            let single = pattern.replacingAll("**", with: "*")
            return fnmatch(single, path, FNM_PERIOD) == 0
        }
        return fnmatch(pattern, path, FNM_PATHNAME | FNM_PERIOD) == 0
    }

    /// The relative paths under `root` that match, sorted. Symlinks are listed, never followed.
    func expand(in root: String) -> [String] {
        if isLiteral {
            return FileInfo.noFollow(root + "/" + pattern) == nil ? [] : [pattern]
        }
        // Walk only below the pattern's literal leading directories.
        var components = pattern.split(separator: "/").map(String.init)
        var base: [String] = []
        while components.count > 1, !components[0].contains(where: { "*?[".contains($0) }) {
            base.append(components.removeFirst())
        }
        var out: [String] = []
        let start = base.joined(separator: "/")
        TreeWalker.walk(root, under: start) { rel, _ in
            if matches(rel) { out.append(rel) }
            return true
        }
        return out.sorted()
    }
}

/// A depth-first walk of a directory tree with `lstat`, never following symlinks and never entering `.git`.
enum TreeWalker {
    /// Calls `visit(relativePath, stat)` for each entry below `root/under`; `visit` returns false to skip a
    /// directory's contents.
    static func walk(_ root: String, under: String = "", _ visit: (String, stat) -> Bool) {
        let start = under.isEmpty ? root : root + "/" + under
        guard let dir = opendir(start) else { return }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." && name != ".git" { names.append(name) }
        }
        closedir(dir)
        for name in names.sorted() {
            let rel = under.isEmpty ? name : under + "/" + name
            guard let st = FileInfo.noFollow(root + "/" + rel) else { continue }
            if visit(rel, st) && FileInfo.isDirectory(st) {
                walk(root, under: rel, visit)
            }
        }
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
