import Glibc
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

@testable import SmartSyncPipeline

/// A temporary directory removed when the test ends (via `defer { dir.remove() }`).
struct TempDir {
    let path: String

    init() {
        var template = Array("/tmp/sync-tests-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        path = String(cString: p!)
    }

    func remove() {
        _ = try? run(["/bin/chmod", "-R", "u+w", path])
        _ = try? run(["/bin/rm", "-rf", path])
    }

    subscript(rel: String) -> String { path + "/" + rel }
}

@discardableResult
func run(_ argv: [String]) throws -> Int32 {
    var pid: pid_t = 0
    var cargs = argv.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    guard posix_spawn(&pid, argv[0], nil, nil, &cargs, environ) == 0 else { return -1 }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return status
}

func mkdirs(_ path: String) {
    var p = ""
    for c in path.split(separator: "/") {
        p += "/" + c
        mkdir(p, 0o755)
    }
}

func writeFile(_ path: String, _ content: String, mode: mode_t = 0o644) {
    mkdirs(String(path[..<path.lastIndex(of: "/")!]))
    unlink(path)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
    precondition(fd >= 0, "open \(path)")
    let bytes = Array(content.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    chmod(path, mode)
}

/// Overwrites content in place (same inode), keeping the file's mode.
func overwriteInPlace(_ path: String, _ content: String) {
    let fd = open(path, O_WRONLY | O_TRUNC)
    precondition(fd >= 0, "open \(path)")
    let bytes = Array(content.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

func lstatOf(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
}

func readLink(_ path: String) -> String? {
    var buf = [CChar](repeating: 0, count: 1024)
    let n = readlink(path, &buf, buf.count)
    guard n >= 0 else { return nil }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Sets a file's mtime (not following symlinks) to `ns` nanoseconds since the epoch.
func setMtime(_ path: String, ns: Int64) {
    var times = [
        timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2 /* UTIME_OMIT */),
        timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000)),
    ]
    let rc = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    precondition(rc == 0, "utimensat \(path)")
}

func mtimeNs(_ path: String) -> Int64 { Timestamps.mtimeNs(lstatOf(path)!) }

func blob(_ s: String) -> ObjectID { ObjectID.blob(Array(s.utf8)) }

/// Builds a listing (blobs and gitlinks only; the planner ignores trees) and fills a store with the blobs.
struct FixtureTree {
    var files: [(path: String, mode: FileMode, content: String)] = []
    var gitlinks: [String] = []

    var listing: TreeListing {
        var entries = files.map {
            TreeEntry(path: TreePath($0.path), mode: $0.mode, id: blob($0.content), size: $0.content.utf8.count)
        }
        entries += gitlinks.map { TreeEntry(path: TreePath($0), mode: .gitlink, id: blob("commit " + $0)) }
        return TreeListing(commit: blob("commit"), rootTree: ObjectID.emptyTree, entries: entries)
    }

    func fill(_ store: ObjectStore) throws {
        for f in files { _ = try store.insert(Array(f.content.utf8), expecting: blob(f.content)) }
    }
}

extension Plan {
    func change(_ path: TreePath) -> Change? { changes.first { $0.path == path } }
    func kind(_ path: TreePath) -> Change.Kind? { change(path)?.kind }
}

/// Every path (relative) under `root`, not following symlinks.
func allPaths(_ root: String) -> [String] {
    var out: [String] = []
    func walk(_ rel: String) {
        guard let d = opendir(rel.isEmpty ? root : root + "/" + rel) else { return }
        defer { closedir(d) }
        while let e = readdir(d) {
            let name = withUnsafePointer(to: &e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let p = rel.isEmpty ? name : rel + "/" + name
            out.append(p)
            if let st = lstatOf(root + "/" + p), (st.st_mode & S_IFMT) == S_IFDIR { walk(p) }
        }
    }
    walk("")
    return out.sorted()
}
