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

    /// Deletes the directory and everything in it (making read-only content writable first).
    public func remove() {
        Self.forceRemove(path)
    }

    deinit {
        if removeOnDeinit { Self.forceRemove(path) }
    }

    /// Removes a tree even when it holds read-only directories (as an object store does).
    static func forceRemove(_ path: String) {
        let fm = FileManager.default
        guard fm.fileExists(atPath: path) else { return }
        if let walker = fm.enumerator(atPath: path) {
            for case let rel as String in walker {
                var st = stat()
                let full = path + "/" + rel
                if lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                    chmod(full, 0o755)
                }
            }
        }
        chmod(path, 0o755)
        try? fm.removeItem(atPath: path)
    }
}
