import Glibc
import SmartSyncFileSystem
import SmartSyncPipeline

/// Small POSIX helpers the checks share: stat, mode formatting, and mode changes that spare store objects.
enum FileInfo {
    /// `lstat`, or nil when the path does not exist (or cannot be reached).
    static func noFollow(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    /// `stat` (following symlinks), or nil.
    static func following(_ path: String) -> stat? {
        var st = stat()
        return stat(path, &st) == 0 ? st : nil
    }

    static func isDirectory(_ st: stat) -> Bool { st.st_mode & S_IFMT == S_IFDIR }
    static func isRegular(_ st: stat) -> Bool { st.st_mode & S_IFMT == S_IFREG }

    /// "a directory", "a symlink", ... for messages.
    static func typeName(_ st: stat) -> String {
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFREG: return "a regular file"
        case S_IFLNK: return "a symlink"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        default: return "an unknown file type"
        }
    }

    /// `0755`.
    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Parses `"0755"`, `"755"` or `"0o755"`; nil when it is not an octal mode up to `07777`.
    static func parseMode(_ text: String) -> mode_t? {
        var digits = Substring(text)
        if digits.hasPrefix("0o") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.count <= 5, let value = UInt32(digits, radix: 8), value <= 0o7777 else {
            return nil
        }
        return mode_t(value)
    }

    /// Sets the permission bits of the resolved path `full` to `mode`, by directory descriptor (a symlink on the way
    /// or at the end is refused, never followed; a hard-linked file gets a private copy: see `TreeEditor`).
    ///
    /// - Returns: what was done, for the fix report.
    static func setMode(_ full: String, _ mode: mode_t, in context: ValidationContext) throws -> String {
        let (editor, path) = context.editor(for: full)
        return try editor.setPermissions(path, mode)
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Reads a whole text file, or nil when it does not exist.
    static func readText(_ path: String) throws -> String? {
        try FileSystem.readFileIfPresent(path).map { String(decoding: $0.bytes, as: UTF8.self) }
    }

    /// Resolves a user name or numeric uid.
    static func uid(_ owner: String) -> uid_t? {
        if let n = UInt32(owner) { return uid_t(n) }
        guard let pw = getpwnam(owner) else { return nil }
        return pw.pointee.pw_uid
    }

    /// Resolves a group name or numeric gid.
    static func gid(_ group: String) -> gid_t? {
        if let n = UInt32(group) { return gid_t(n) }
        guard let gr = getgrnam(group) else { return nil }
        return gr.pointee.gr_gid
    }
}
