import Glibc
import SmartSyncGitObjects
import SmartSyncPipeline

/// The entries of a target that a validate check's `glob` names (``PathGlob``'s dialect, the one `--exclude` uses),
/// relative to the target.
struct TargetGlob: Sendable, Equatable {
    let glob: PathGlob

    init(pattern: String) { glob = PathGlob(pattern) }

    /// True when the relative path `path` matches (its bytes, whatever their encoding).
    func matches(_ path: TreePath) -> Bool { glob.matches(path) }

    /// The entries below `root` that match, in byte order, with their `lstat`: walked by directory descriptor,
    /// symlinks listed and never followed, `.git` never entered.
    func expand(in root: String) throws -> [(path: TreePath, stat: stat)] {
        let editor = TreeEditor(root: root)
        if let path = glob.literalPath {
            return try TreeReader(root: root).status(path).map { [(path, $0)] } ?? []
        }
        // Walk only below the pattern's literal leading directories.
        var components = glob.pattern.split(separator: "/").map(String.init)
        var base: [String] = []
        while components.count > 1, !components[0].contains(where: { "*?[\\".contains($0) }) {
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
