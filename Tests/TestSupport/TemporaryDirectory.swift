import Foundation

/// A uniquely named directory under the system temp directory, removed by ``remove()`` or when the last reference
/// goes away.
///
/// ```swift
/// let tmp = try TemporaryDirectory(prefix: "sync")
/// let target = tmp.url.appendingPathComponent("target")
/// ```
public final class TemporaryDirectory: Sendable {
    /// The directory's absolute path (symlinks in the temp root resolved).
    public let path: String
    /// Whether the directory is deleted on deinit.
    public let removeOnDeinit: Bool

    /// Creates a fresh, empty directory named `<prefix>-<random>` under `$TMPDIR` (or `/tmp`).
    public init(prefix: String = "smart-sync-test", removeOnDeinit: Bool = true) throws {
        let root = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(root)/\(prefix)-XXXXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else {
            throw TestSupportError(description: "mkdtemp in \(root) failed: errno \(errno)")
        }
        let raw = String(decoding: template.map { UInt8(bitPattern: $0) }.prefix { $0 != 0 }, as: UTF8.self)
        path = URL(fileURLWithPath: raw).resolvingSymlinksInPath().path
        self.removeOnDeinit = removeOnDeinit
    }

    /// The directory as a file URL.
    public var url: URL { URL(fileURLWithPath: path, isDirectory: true) }

    /// `path + "/" + component`.
    public func appending(_ component: String) -> String { path + "/" + component }

    /// `path + "/" + relative`: `dir["a/b"]`.
    public subscript(_ relative: String) -> String { appending(relative) }

    /// Deletes the directory and everything in it (making read-only content writable first).
    public func remove() {
        Self.removeTree(path)
    }

    deinit {
        if removeOnDeinit { Self.removeTree(path) }
    }

    /// Removes a tree even when it holds read-only directories (a sealed object store, a 0555 stage): every real
    /// directory below it is made writable first. Symlinks are never followed. Does nothing when `path` is missing.
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR { makeWritable(path) }
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func makeWritable(_ directory: String) {
        chmod(directory, 0o755)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            var st = stat()
            let full = directory + "/" + name
            if lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { makeWritable(full) }
        }
    }
}
