import CLinuxShims
import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// One directory's entries, each `lstat`ed by descriptor (`fstatat(AT_SYMLINK_NOFOLLOW)`: a symlink is never
/// followed), in the order that makes a depth-first walk yield its paths sorted by their bytes (``PathTable``'s
/// order), so the scan (``TargetScanner``) builds its table and joins it with others by a forward cursor, with no sort
/// afterwards.
///
/// An entry's own path is `name`, its contents' paths start with `name/`, and byte order can put siblings between the
/// two (`a` < `a+` < `a-` < `a.b` < `a/x` < `a0`). So the walk is a sequence of ``steps`` ordered by that key: each
/// entry once at `name` (a visit), and each directory once more at `name/` (its descent). The descents alone are in
/// git's tree order (a directory compares as its name followed by `/`). Visiting a directory at its tree position
/// would not do: `a+`, `a-` and `a.b` would come before the directory `a`'s own entry.
///
/// What orders an entry as a directory is its `lstat`, the one the walker records: `readdir`'s `d_type` is not used.
/// The scan `lstat`s every entry anyway, and a `d_type` gone stale between `readdir` and the `lstat` (or `DT_UNKNOWN`,
/// on file systems that do not fill it in) could otherwise put a directory's contents out of place.
/// (``UntrackedCarrier`` and ``StageRecycler``, which need no `lstat` of most entries to order them, order their
/// walks by `d_type` with ``steps(count:name:descends:)``, an `lstat` only for `DT_UNKNOWN`, and cope with one gone
/// stale themselves.)
struct SortedDirectory {
    /// One entry, as `fstatat` saw it: the fields the scan keeps (``StatData``, owner and group), not the whole
    /// `stat` (144 bytes, twice this).
    struct Child {
        /// Where its name lies in ``SortedDirectory/names`` (a NUL follows it there).
        let name: Range<Int>
        let stat: StatData
        let owner: UInt32
        let group: UInt32

        var isDirectory: Bool { (mode_t(stat.mode) & S_IFMT) == S_IFDIR }
        /// Its permission bits and ownership.
        var metadata: FileMetadata { FileMetadata(permissions: UInt16(stat.mode & 0o7777), owner: owner, group: group) }
    }

    /// One step of the walk: ``children``[`index`]'s own entry, or (`descends`) its contents; with its key's first
    /// bytes, which order most steps of a directory with one integer comparison (``sort(_:names:span:)``).
    struct Step {
        /// The first 8 bytes of the step's key (`name`, or `name/` for a descent) as a big-endian integer, zeros past
        /// the key's end. The zeros sort first, as a key's end does, so a key sorting before another never has a
        /// greater head: heads that differ order their steps, equal ones leave it to the bytes.
        let head: UInt64
        /// `index << 1`, and 1 for a descent: the step stays 16 bytes, as it was before it held its head.
        private let packed: Int

        var index: Int { packed >> 1 }
        var descends: Bool { packed & 1 != 0 }

        /// The step of entry `index`, whose name is `name`.
        init(index: Int, descends: Bool, name: UnsafeBufferPointer<UInt8>) {
            packed = index << 1 | (descends ? 1 : 0)
            var head: UInt64 = 0
            let count = min(name.count, 8)
            for i in 0..<count { head |= UInt64(name[i]) << (56 - 8 * i) }
            if descends && count < 8 { head |= 0x2F << (56 - 8 * count) }
            self.head = head
        }
    }

    /// The directory's `getdents64` records as the kernel filled them, one buffer after another: each child's name
    /// lies in them (``Child/name``) where the kernel put it, a NUL after it. One copy a `getdents64` call, not one a
    /// name; and no ``TreePath`` (a string, a heap block for a name over 15 bytes, and its UTF-8 validation) per entry
    /// of the walk. The records' headers and padding come along, and those of `.`, `..` and the entries left out: an
    /// entry costs `ALIGN8(19 + n + 1)` bytes here, not `n + 1` for an `n`-byte name (32, not 11, for a 10-byte
    /// name); a buffer most of whose entries were left out (excluded, or vanished) keeps only its kept names instead,
    /// so exclusions refusing most of a large directory do not keep its records. The sort compares the names in
    /// place, the system calls take them as C strings, and the scan puts a path together from them as bytes, making a
    /// ``TreePath`` only for a path its stat cache does not already hold.
    let names: [UInt8]
    /// The entries, in the order the directory gave them.
    let children: [Child]
    /// Every child's visit and every directory's descent, in byte order of `name` and `name/`.
    let steps: [Step]
    /// How many times the listing gave ``children`` a new buffer: a few for any size, since room is reserved
    /// geometrically (the tests hold it to that; an exact reserve per `getdents64` call made it one a call).
    let childrenAllocations: Int

    /// How many bytes of entries one `getdents64` returns at most (glibc's `readdir` reads 32 KiB too).
    static let listingBuffer = 32 * 1024

    /// Lists and `lstat`s the directory open on `fd` (which stays open, for the walk to go on with and close), from
    /// its current position (the start, for a descriptor just opened); `display` is its path for messages (made only
    /// for one). An entry `including` (given its name's bytes) refuses is neither `lstat`ed nor listed; one gone
    /// before its `lstat` is left out.
    ///
    /// Read by `getdents64` itself, not `readdir`: no `DIR` stream (an `fcntl` and a 32 KiB block each), and each
    /// name is `lstat`ed where the kernel put it. `d_type` is not used (see above), so a file system that reports
    /// `DT_UNKNOWN` lists the same.
    init(
        listing fd: Int32, display: @autoclosure () -> String,
        including: (UnsafeBufferPointer<UInt8>) throws -> Bool = { _ in true }
    ) throws {
        var names: [UInt8] = []
        var children: [Child] = []
        var childrenAllocations = 0
        var st = stat()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.listingBuffer, alignment: 8)
        defer { buffer.deallocate() }
        let base = buffer.bindMemory(to: UInt8.self).baseAddress!  // bound once: the records are read as bytes
        while true {
            let filled = ss_getdents64(fd, base, UInt(buffer.count))
            if filled < 0 {
                let err = errno  // read before the message is built (it allocates)
                if err == EINTR { continue }
                throw SmartSyncError.io("getdents64", path: display(), errno: err)
            }
            if filled == 0 { break }
            // Where these records go in `names`, and room for as many children as they can hold (a record is 24 bytes
            // at the least: its 19-byte header, a name byte and its NUL, padded to 8), reserved geometrically: an
            // exact reserve at every call would copy all the children so far each time (quadratic in a large one).
            let offset = names.count
            let first = children.count
            let capacity = children.capacity
            children.reserve(room: filled / 24)
            var dropped = 0  // refused or vanished
            try Self.forEachName(in: UnsafeBufferPointer(start: base, count: filled), display: display()) { name in
                guard try including(name) else {
                    dropped += 1
                    return
                }
                let found = name.baseAddress!.withMemoryRebound(to: CChar.self, capacity: name.count + 1) {
                    fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW)
                }
                if found != 0 {
                    let err = errno
                    if err == ENOENT {  // vanished while we looked
                        dropped += 1
                        return
                    }
                    throw SmartSyncError.io(
                        "fstatat", path: display() + "/" + TreePath(bytes: name).description, errno: err)
                }
                let start = offset + (name.baseAddress! - UnsafePointer(base))
                children.append(
                    Child(name: start..<(start + name.count), stat: StatData(st), owner: st.st_uid, group: st.st_gid))
            }
            if children.capacity != capacity { childrenAllocations += 1 }  // by the reserve (the appends fit in it)
            if dropped <= children.count - first {
                names.append(contentsOf: UnsafeBufferPointer(start: base, count: filled))
            } else {
                // Most of these records left out (excluded or vanished): only the kept names, each with its NUL, so
                // a directory whose exclusions refuse most entries does not hold their records.
                for i in first..<children.count {
                    let child = children[i]
                    let start = names.count
                    let found = base + (child.name.lowerBound - offset)
                    names.append(contentsOf: UnsafeBufferPointer(start: found, count: child.name.count + 1))
                    children[i] = Child(
                        name: start..<(start + child.name.count), stat: child.stat, owner: child.owner,
                        group: child.group)
                }
            }
        }
        self.names = names
        self.children = children
        self.childrenAllocations = childrenAllocations
        var steps: [Step] = []
        steps.reserveCapacity(children.count * 2)
        names.withUnsafeBufferPointer { all in
            children.withUnsafeBufferPointer { children in
                for i in children.indices {
                    let name = UnsafeBufferPointer(rebasing: all[children[i].name])
                    steps.append(Step(index: i, descends: false, name: name))
                    if children[i].isDirectory { steps.append(Step(index: i, descends: true, name: name)) }
                }
                Self.sort(&steps, names: all) { children[$0].name }
            }
        }
        self.steps = steps
    }

    /// Calls `body` with the name of each `struct linux_dirent64` record in `records` (what one `getdents64` filled),
    /// in their order, `.` and `..` left out. A name is given as its bytes, a NUL right after them in `records` (so
    /// its base address is a C string for a system call).
    ///
    /// - Throws: `SmartSyncError` (`.io`, EIO, naming `display`) at a record that does not lie inside `records`
    ///   (its header or its length past the end, a length too short for a name), whose name is empty, not ended by a
    ///   NUL within the record or holds a `/`: from a damaged or hostile file system, never `lstat`ed as a path.
    static func forEachName(
        in records: UnsafeBufferPointer<UInt8>, display: @autoclosure () -> String,
        _ body: (UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        guard let base = records.baseAddress else { return }
        var offset = 0
        while offset < records.count {
            // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), the name and its NUL.
            let record = base + offset
            let room = records.count - offset
            // A header cut short reads as length 0 (refused below), not past the end.
            let length =
                room >= 19 ? Int(UnsafeRawPointer(record).loadUnaligned(fromByteOffset: 16, as: UInt16.self)) : 0
            let nameStart = record + 19
            guard length > 19, length <= room, let end = memchr(nameStart, 0, length - 19),
                case let nameLength = UnsafeRawPointer(end) - UnsafeRawPointer(nameStart), nameLength > 0,
                memchr(nameStart, 0x2F, nameLength) == nil
            else {
                throw SmartSyncError.io("getdents64", path: display(), errno: EIO)
            }
            offset += length
            let name = UnsafeBufferPointer(start: nameStart, count: nameLength)
            if name[0] == 0x2E && (nameLength == 1 || (nameLength == 2 && name[1] == 0x2E)) { continue }
            try body(name)
        }
    }

    /// The name of `children[i]`.
    func name(_ i: Int) -> TreePath { Self.path(names, children[i].name) }

    /// Calls `body` with the bytes of `children[i]`'s name.
    func withName<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try names.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[children[i].name])) }
    }

    /// Calls `body` with `children[i]`'s name as a C string (for a system call).
    func withCName<R>(_ i: Int, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try names.withUnsafeBufferPointer { all in
            try all.baseAddress!.withMemoryRebound(to: CChar.self, capacity: all.count) {
                try body($0 + children[i].name.lowerBound)
            }
        }
    }

    private static func path(_ names: [UInt8], _ span: Range<Int>) -> TreePath { TreePath(bytes: names[span]) }

    /// The steps of a walk over `count` entries, the `i`th named `name(i)` and descended into when `descends(i)`:
    /// every visit and descent, in byte order of `name` and `name/`.
    static func steps(count: Int, name: (Int) -> TreePath, descends: (Int) -> Bool) -> [Step] {
        // The names side by side in one buffer: the sort compares bytes in place (most of its cost otherwise is
        // getting at each name's bytes).
        var bytes: [UInt8] = []
        var spans: [Range<Int>] = []
        spans.reserveCapacity(count)
        var steps: [Step] = []
        steps.reserveCapacity(count * 2)
        for i in 0..<count {
            let start = bytes.count
            name(i).withBytes { name in
                bytes.append(contentsOf: name)
                steps.append(Step(index: i, descends: false, name: name))
                if descends(i) { steps.append(Step(index: i, descends: true, name: name)) }
            }
            spans.append(start..<bytes.count)
        }
        bytes.withUnsafeBufferPointer { all in
            spans.withUnsafeBufferPointer { spans in sort(&steps, names: all) { spans[$0] } }
        }
        return steps
    }

    /// Below this many steps a directory is sorted by insertion (most directories of a tree: no merge buffer, no
    /// run detection); above it by the standard library's sort, with the same comparison.
    static let insertionSortLimit = 24

    /// Sorts `steps` by the byte order of `name` and `name/`, the name of entry `i` being `names[span(i)]`: by their
    /// heads (``Step/head``), and by their bytes (``precedes(_:slash:_:slash:)``) only when the heads are equal (two
    /// keys sharing their first 8 bytes). Every key is distinct (the names are, and an entry's descent is its name
    /// followed by `/`): no stability needed.
    @inline(__always)
    static func sort(_ steps: inout [Step], names: UnsafeBufferPointer<UInt8>, span: (Int) -> Range<Int>) {
        @inline(__always) func less(_ a: Step, _ b: Step) -> Bool {
            if a.head != b.head { return a.head < b.head }
            return precedes(
                UnsafeBufferPointer(rebasing: names[span(a.index)]), slash: a.descends,
                UnsafeBufferPointer(rebasing: names[span(b.index)]), slash: b.descends)
        }
        steps.withUnsafeMutableBufferPointer { steps in
            guard steps.count <= insertionSortLimit else { return steps.sort(by: less) }
            var i = 1
            while i < steps.count {
                let step = steps[i]
                var j = i
                while j > 0 && less(step, steps[j - 1]) {
                    steps[j] = steps[j - 1]
                    j -= 1
                }
                steps[j] = step
                i += 1
            }
        }
    }

    /// A directory stream on `fd`, which it takes over (closed by `closedir`, or here when the stream cannot be made).
    static func open(_ fd: Int32, display: @autoclosure () -> String) throws -> OpaquePointer {
        guard let dir = fdopendir(fd) else {
            let err = errno
            close(fd)
            throw SmartSyncError.io("fdopendir", path: display(), errno: err)
        }
        return dir
    }

    /// Whether the name `x` (followed by `/` when `slash`) sorts before `y` (likewise) by bytes. Names hold no `/`,
    /// so the `/` decides only where one name is the other's prefix. With neither flag it is the plain byte order of
    /// any two byte strings: whole paths too (``ScanWalker/precedes(_:_:)``, the scan's order check).
    @inline(__always)
    static func precedes(
        _ x: UnsafeBufferPointer<UInt8>, slash xSlash: Bool, _ y: UnsafeBufferPointer<UInt8>, slash ySlash: Bool
    ) -> Bool {
        let common = min(x.count, y.count)
        if common > 0 {
            let order = memcmp(x.baseAddress!, y.baseAddress!, common)
            if order != 0 { return order < 0 }
        }
        // The next byte of each key: past a name's end, `/` when it is a descent's, else nothing (-1).
        let p = x.count > common ? Int(x[common]) : xSlash ? 0x2F : -1
        let q = y.count > common ? Int(y[common]) : ySlash ? 0x2F : -1
        return p < q
    }
}
