import Foundation
import Glibc

/// Fixture helpers shared by the benchmark targets. Everything here runs in setup/teardown closures or outside the
/// measured region; nothing in it is measured.
public enum Fixtures {
    /// A fresh scratch directory under `$SMART_SYNC_BENCH_DIR` (default `$TMPDIR` or `/tmp`). Store and targets
    /// live under the same directory, hence on one file system, so the applier can hard-link as it does in
    /// production (store and target on one disk).
    public static func scratchDirectory(_ label: String) throws -> String {
        let env = ProcessInfo.processInfo.environment
        let base = env["SMART_SYNC_BENCH_DIR"] ?? env["TMPDIR"] ?? "/tmp"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        var template = Array((base + "/smart-sync-bench-\(label)-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw FixtureError("mkdtemp under \(base) failed: errno \(errno)")
        }
        return String(cString: made)
    }

    /// Removes a tree (read-only store objects included: unlinking needs only the directory's permission).
    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Deterministic, varied small content for file `f` of directory `d`: 20 B to about 1.5 KB, every file distinct.
    public static func smallContent(dir d: Int, file f: Int) -> [UInt8] {
        let line = "dir \(d) file \(f): the quick brown fox jumps over the lazy dog\n"
        let repeats = (d * 100 + f) % 23 + 1
        var out = [UInt8]()
        out.reserveCapacity(line.utf8.count * repeats)
        for _ in 0..<repeats { out.append(contentsOf: line.utf8) }
        return out
    }

    /// Relative path of file `f` in directory `d`: `d042/f017.txt`.
    public static func path(dir d: Int, file f: Int) -> String {
        String(format: "d%03d/f%03d.txt", d, f)
    }

    /// Writes the `dirs` x `files` tree of ``smallContent(dir:file:)`` under `root`.
    public static func writeSmallTree(at root: String, dirs: Int, files: Int) throws {
        for d in 0..<dirs {
            try FileManager.default.createDirectory(
                atPath: root + "/" + String(format: "d%03d", d), withIntermediateDirectories: true)
            for f in 0..<files {
                try writeFile(smallContent(dir: d, file: f), to: root + "/" + path(dir: d, file: f))
            }
        }
    }

    /// Writes `bytes` to `path` (created or truncated, mode 0644).
    public static func writeFile(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FixtureError("open \(path): errno \(errno)") }
        defer { close(fd) }
        try bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                guard n > 0 else { throw FixtureError("write \(path): errno \(errno)") }
                off += n
            }
        }
    }

    /// Sets the mtime (and atime) of every regular file under `root` to `secondsAgo` in the past.
    /// (Their ctime becomes "now": callers that need a non-racy stat cache must still wait a clock tick.)
    public static func backdateFiles(under root: String, secondsAgo: Int) throws {
        let when = timespec(tv_sec: time(nil) - secondsAgo, tv_nsec: 0)
        var times = [when, when]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return }
        while let rel = walker.nextObject() as? String {
            let p = root + "/" + rel
            var st = stat()
            guard lstat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            guard utimensat(AT_FDCWD, p, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw FixtureError("utimensat \(p): errno \(errno)")
            }
        }
    }

    /// A buffer of `count` pseudo-random bytes (xorshift; deterministic, not compressible).
    public static func randomBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 64)
        var x = seed
        let words = buffer.bindMemory(to: UInt64.self)
        for i in 0..<words.count {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            words[i] = x
        }
        return UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(words.baseAddress), count: count)
    }
}

/// Runs external commands (the peers: git, cp, tar, openssl).
public enum Command {
    /// Runs `argv` (argv[0] looked up in PATH), optionally in `directory` with extra environment; throws unless it
    /// exits 0. Output goes to /dev/null unless `capture` is set, in which case stdout is returned.
    @discardableResult
    public static func run(
        _ argv: [String], in directory: String? = nil, environment extra: [String: String] = [:], capture: Bool = false
    ) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if !extra.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        }
        let pipe = Pipe()
        p.standardOutput = capture ? pipe : FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = capture ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw FixtureError("\(argv.joined(separator: " ")) exited with \(p.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs a shell pipeline with `/bin/sh -c`.
    public static func shell(_ script: String, environment: [String: String] = [:]) throws {
        try run(["/bin/sh", "-c", script], environment: environment)
    }

    /// `git` with a fixed identity and no user/system configuration, so a developer's config does not skew the peer.
    public static func git(_ args: [String], gitDir: String, workTree: String? = nil, indexFile: String? = nil) throws {
        var env = ["GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_DIR": gitDir]
        if let workTree { env["GIT_WORK_TREE"] = workTree }
        if let indexFile { env["GIT_INDEX_FILE"] = indexFile }
        try run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"] + args, environment: env)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
