import Foundation
import SmartSyncGitObjects

/// A directory tree reduced to what a sync must get right: for each path, the kind (file, executable, symlink)
/// and the content (as a git blob id) or symlink target. Directories are implied by their contents; empty
/// directories are recorded separately.
///
/// ```swift
/// let want = try DirectorySnapshot(of: expectedDir)
/// let got = try DirectorySnapshot(of: target, ignoring: [".smart-sync"])
/// #expect(got == want, "\(got.difference(from: want))")
/// ```
public struct DirectorySnapshot: Equatable, Sendable, CustomStringConvertible {
    /// What kind of entry a path is.
    public enum Kind: String, Sendable, Equatable {
        case file
        case executable
        case symlink
    }

    /// One non-directory entry.
    public struct Entry: Equatable, Sendable, CustomStringConvertible {
        public var kind: Kind
        /// Git blob id of the content (of the target text, for symlinks).
        public var blob: ObjectID
        /// Content size in bytes (target length for symlinks).
        public var size: Int
        /// The link target, for symlinks.
        public var symlinkTarget: String?

        public init(kind: Kind, blob: ObjectID, size: Int, symlinkTarget: String? = nil) {
            self.kind = kind
            self.blob = blob
            self.size = size
            self.symlinkTarget = symlinkTarget
        }

        public var description: String {
            if let symlinkTarget { return "symlink -> \(symlinkTarget)" }
            return "\(kind.rawValue) \(blob.abbreviated(10)) (\(size) bytes)"
        }
    }

    /// Non-directory entries by relative path (`a/b/c`).
    public var entries: [String: Entry]
    /// Relative paths of directories that contain nothing.
    public var emptyDirectories: Set<String>

    /// Creates a snapshot from parts (e.g. to state an expectation by hand).
    public init(entries: [String: Entry], emptyDirectories: Set<String> = []) {
        self.entries = entries
        self.emptyDirectories = emptyDirectories
    }

    /// Walks `root` without following symlinks. Top-level names in `ignoring` are skipped entirely.
    public init(of root: String, ignoring: Set<String> = []) throws {
        entries = [:]
        emptyDirectories = []
        try walk(root: root, relative: "", ignoring: ignoring)
    }

    private mutating func walk(root: String, relative: String, ignoring: Set<String>) throws {
        let dir = relative.isEmpty ? root : root + "/" + relative
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        var kept = 0
        for name in names {
            if relative.isEmpty && ignoring.contains(name) { continue }
            kept += 1
            let rel = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + rel
            var st = stat()
            guard lstat(full, &st) == 0 else { throw TestSupportError(description: "lstat \(full): errno \(errno)") }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try walk(root: root, relative: rel, ignoring: ignoring)
            case S_IFLNK:
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: full)
                let bytes = Array(target.utf8)
                entries[rel] = Entry(
                    kind: .symlink, blob: ObjectID.blob(bytes), size: bytes.count, symlinkTarget: target)
            case S_IFREG:
                let (id, size) = try BlobHasher.hashFile(atPath: full)
                let exec = (st.st_mode & 0o100) != 0
                entries[rel] = Entry(kind: exec ? .executable : .file, blob: id, size: size)
            default:
                throw TestSupportError(description: "\(full) is neither a file, a symlink nor a directory")
            }
        }
        if kept == 0 && !relative.isEmpty { emptyDirectories.insert(relative) }
    }

    /// Sorted relative paths.
    public var paths: [String] { entries.keys.sorted() }

    /// Human-readable differences (`+` only in self, `-` only in `other`, `~` differs); empty when equal.
    public func difference(from other: DirectorySnapshot) -> String {
        var lines: [String] = []
        for path in Set(entries.keys).union(other.entries.keys).sorted() {
            switch (entries[path], other.entries[path]) {
            case let (mine?, nil): lines.append("+ \(path): \(mine)")
            case let (nil, theirs?): lines.append("- \(path): \(theirs)")
            case let (mine?, theirs?) where mine != theirs: lines.append("~ \(path): \(mine), expected \(theirs)")
            default: break
            }
        }
        for dir in emptyDirectories.subtracting(other.emptyDirectories).sorted() { lines.append("+ \(dir)/ (empty)") }
        for dir in other.emptyDirectories.subtracting(emptyDirectories).sorted() { lines.append("- \(dir)/ (empty)") }
        return lines.joined(separator: "\n")
    }

    public var description: String {
        var lines = paths.map { "\($0): \(entries[$0]!)" }
        lines += emptyDirectories.sorted().map { "\($0)/ (empty)" }
        return "DirectorySnapshot(\(entries.count) entries)\n" + lines.joined(separator: "\n")
    }
}
