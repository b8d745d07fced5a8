import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A state or stat-cache file decoded as it is read
/// (``BinaryReader/decodeFile(_:magic:versions:regularOnly:bufferSize:_:)``), through a buffer refilled as the
/// decoder goes and a checksum taken as the bytes pass, reads as the same file read whole: across every refill
/// boundary (buffers smaller than a record, a path longer than the buffer), and a file cut, lengthened or with a byte
/// changed reads as none, however far the decoder got before its end.
@Suite struct BinaryReaderTests {
    /// Buffer sizes: the smallest (64 bytes: every record straddles a refill), odd sizes that cut records at every
    /// offset across a file, one larger than the files.
    static let buffers = [64, 97, 200, 4_096, 1 << 20]

    private static let id = ObjectID.blob(Array("x\n".utf8))

    /// Paths in order, some of them longer than the smallest buffers (one of 1,000 bytes).
    static let paths: [TreePath] = (
        (0..<300).map { TreePath("d\($0 / 50)/f-\($0)") }
            + [TreePath(String(repeating: "long/", count: 200)), TreePath(bytes: Array("caf".utf8) + [0xE9])]
    ).sorted()

    static func state() -> TargetState {
        let manifest = Manifest(
            entries: PathTable(keysInOrder: paths, values: paths.indices.map {
                Manifest.Entry(mode: $0 % 7 == 0 ? .executable : .regular, id: ObjectID.blob([UInt8($0 % 256)]))
            }))
        var state = TargetState(target: "/t", commit: id, ref: "main", appliedAtNs: 7, manifest: manifest)
        state.keptLocal = Manifest(entries: ["kept/a": .init(mode: .regular, id: id)])
        return state
    }

    /// A state of two entries and no kept versions: a file shorter than three of the smallest buffers.
    static func smallState() -> TargetState {
        var small = state()
        small.manifest = Manifest(entries: [
            "a": .init(mode: .regular, id: Self.id), "b/c": .init(mode: .symlink, id: Self.id),
        ])
        small.keptLocal = Manifest()
        return small
    }

    static func cache() -> StatCache {
        StatCache(
            entries: PathTable(keysInOrder: paths, values: paths.indices.map {
                let stat = StatData(
                    device: 1, inode: UInt64($0), size: Int64($0), mtimeNs: 1_000, ctimeNs: 1_000, mode: 0o100444)
                return StatCache.Entry(stat: stat, id: ObjectID.blob([UInt8($0 % 256)]))
            }))
    }

    @Test(arguments: buffers)
    func aStateReadsAsItWasWrittenAcrossRefills(buffer: Int) throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        let state = Self.state()
        try StateFileReadTests.save(dir["state"], state.encoded())
        let read = try #require(try TargetState.read(from: dir["state"], bufferSize: buffer))
        #expect(read == state)
        #expect(read.manifest.entries.keys == Self.paths)
        #expect(try TargetState.read(from: dir["none"], bufferSize: buffer) == nil)
    }

    @Test(arguments: buffers)
    func aStatCacheReadsAsItWasWrittenWithItsMtimeAcrossRefills(buffer: Int) throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        var cache = Self.cache()
        try cache.save(to: dir["cache"])
        var st = stat()
        try #require(lstat(dir["cache"], &st) == 0)
        let read = try StatCache.load(from: dir["cache"], trustCtime: true, sharing: Self.paths, bufferSize: buffer)
        #expect(read.entries == cache.entries)
        #expect(read.timestampNs == Timestamps.mtimeNs(st))
        #expect(read.timestampNs == cache.timestampNs)
        let missing = try StatCache.load(from: dir["none"], trustCtime: true, sharing: [], bufferSize: buffer)
        #expect(missing.entries.isEmpty && missing.timestampNs == nil)
    }

    /// The order of the paths is found across refills (the last path is kept in the buffer to compare the next
    /// with): a table in order is taken as it is, one out of order found so and sorted.
    @Test(arguments: [64, 97])
    func theOrderOfPathsIsFoundAcrossRefills(buffer: Int) throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        let long = String(repeating: "p", count: 150)
        let cases: [([String], Bool)] = [
            (["a", "b", "b/c", "c"], true), (["b", "a"], false), (["ab", "a"], false),
        ]
        for (names, inOrder) in cases {
            let paths = names.map { TreePath(long + $0) }
            try StateFileReadTests.save(dir["m"], ReadOrderTests.manifestBytes(paths))
            let read = try BinaryReader.decodeFile(dir["m"], magic: "TEST", versions: 1...1, bufferSize: buffer) {
                r, _ -> (Manifest, Bool)? in
                guard let manifest = Manifest(reading: &r), r.isAtEnd else { return nil }
                return (manifest, r.pathsIncreasing)
            }
            let (manifest, increasing) = try #require(read)
            #expect(increasing == inOrder, "\(paths)")
            #expect(manifest.entries.keys == paths.sorted())
        }
    }

    /// Every cut of a state file (mid-record, mid-checksum, at a record's end), the file one byte longer, and a byte
    /// changed anywhere (the checksum's own among them) read as no state; a stat cache so damaged as an empty one.
    @Test(arguments: [64, 4_096])
    func aDamagedFileReadsAsNone(buffer: Int) throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        let small = Self.smallState()
        let bytes = small.encoded()
        try StateFileReadTests.save(dir["state"], bytes)
        #expect(try TargetState.read(from: dir["state"], bufferSize: buffer) == small)
        var damaged: [[UInt8]] = (0..<bytes.count).map { Array(bytes.prefix($0)) } + [bytes + [0]]
        for k in bytes.indices {
            var flipped = bytes
            flipped[k] ^= 0x01
            damaged.append(flipped)
        }
        for (k, file) in damaged.enumerated() {
            try StateFileReadTests.save(dir["state"], file)
            #expect(try TargetState.read(from: dir["state"], bufferSize: buffer) == nil, "damage \(k)")
        }

        var cache = Self.cache()
        try cache.save(to: dir["cache"])
        let whole = try FileSystem.readFile(dir["cache"])
        for file in [Array(whole.dropLast(1)), Array(whole.prefix(whole.count / 2)), whole + [0, 0], {
            var b = whole
            b[b.count - 1] ^= 0x80
            return b
        }()] {
            try StateFileReadTests.save(dir["cache"], file)
            let read = try StatCache.load(from: dir["cache"], trustCtime: true, sharing: [], bufferSize: buffer)
            #expect(read.entries.isEmpty)
        }
    }

    /// Every buffer size from the smallest to past the small state's length (each cuts its records at another
    /// offset, the checksum among them): the state reads as written, and with one byte changed as none (the byte
    /// before the buffer's end, and one that moves across the file as the buffer grows).
    @Test func aSmallStateReadsAtEveryBufferSize() throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        let small = Self.smallState()
        let bytes = small.encoded()
        try #require(bytes.count < 154)
        for buffer in 64...154 {
            try StateFileReadTests.save(dir["state"], bytes)
            #expect(try TargetState.read(from: dir["state"], bufferSize: buffer) == small, "buffer \(buffer)")
            for k in [min(buffer, bytes.count) - 1, (buffer - 64) * bytes.count / 91] {
                var flipped = bytes
                flipped[k] ^= 0x01
                try StateFileReadTests.save(dir["state"], flipped)
                let read = try TargetState.read(from: dir["state"], bufferSize: buffer)
                #expect(read == nil, "buffer \(buffer), byte \(k)")
            }
        }
    }

    /// A state file cut in place while it is decoded (an operator's `cp` over it, between two refills) reads as none:
    /// the rest is missing, the checksum fails (where a mapping of it died of SIGBUS).
    @Test func aFileCutWhileItIsDecodedReadsAsNone() throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        let bytes = Self.state().encoded()
        try StateFileReadTests.save(dir["state"], bytes)
        var decodedAll = false
        let read = try BinaryReader.decodeFile(
            dir["state"], magic: TargetState.magic, versions: 1...1, bufferSize: 256
        ) { r, _ -> Manifest? in
            guard r.readString() != nil, r.readID() != nil, r.readString() != nil, r.readInt64() != nil else {
                return nil
            }
            #expect(truncate(dir["state"], Int(bytes.count / 2)) == 0)
            let manifest = Manifest(reading: &r)
            decodedAll = manifest != nil
            return manifest
        }
        #expect(read == nil)
        #expect(!decodedAll)
    }

    /// A count damaged to the largest there is (read before the checksum can be proven) reserves no more than the
    /// file could hold, and the file reads as none.
    @Test func aDamagedCountReadsAsNoneWithoutItsMemory() throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        var cache = Self.cache()
        try cache.save(to: dir["cache"])
        var bytes = try FileSystem.readFile(dir["cache"])
        for k in 8..<12 { bytes[k] = 0xFF }  // the entry count, after magic and version
        try StateFileReadTests.save(dir["cache"], bytes)
        #expect(try StatCache.load(from: dir["cache"]).entries.isEmpty)
        var reserved = -1
        let read = try BinaryReader.decodeFile(dir["cache"], magic: "SSSC", versions: 1...2) { r, _ -> UInt32? in
            guard let count = r.readUInt32() else { return nil }
            reserved = r.reservation(count, each: 68)
            return count
        }
        #expect(read == nil)  // a decoder that stops short of the end gives nothing
        #expect(reserved >= 0 && reserved <= bytes.count / 68)
    }

    /// A path length damaged to the largest there is (read before the checksum can be proven) reads on to the end of
    /// the file, no further: the cache reads as empty, without asking for 4 GiB.
    @Test(arguments: [64, 4_096])
    func aDamagedPathLengthReadsAsEmpty(buffer: Int) throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        var cache = Self.cache()
        try cache.save(to: dir["cache"])
        var bytes = try FileSystem.readFile(dir["cache"])
        for k in 12..<16 { bytes[k] = 0xFF }  // the first path's length, after magic, version and count
        try StateFileReadTests.save(dir["cache"], bytes)
        let read = try StatCache.load(from: dir["cache"], trustCtime: true, sharing: [], bufferSize: buffer)
        #expect(read.entries.isEmpty)
        let path = try BinaryReader.decodeFile(dir["cache"], magic: "SSSC", versions: 1...2, bufferSize: buffer) {
            r, _ -> TreePath? in
            guard r.readUInt32() != nil else { return nil }
            return r.readPath()
        }
        #expect(path == nil)
    }

    /// The files earlier releases wrote (a hash-ordered state, hash-ordered and version 1 caches) read from their
    /// files as they read from memory.
    @Test(arguments: [64, 4_096])
    func filesOfEarlierReleasesReadAsFromMemory(buffer: Int) throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        let state = try RecordFixtures.bytes("state-hash-order")
        try StateFileReadTests.save(dir["state"], state)
        let fromFile = try #require(try TargetState.read(from: dir["state"], bufferSize: buffer))
        #expect(fromFile == TargetState(encoded: state))
        #expect(PathTable<Manifest.Entry>.isStrictlyIncreasing(fromFile.manifest.entries.keys))
        for name in ["stat-cache-hash-order", "stat-cache-v1"] {
            let bytes = try RecordFixtures.bytes(name)
            try StateFileReadTests.save(dir["cache"], bytes)
            let read = try StatCache.load(from: dir["cache"], trustCtime: true, sharing: [], bufferSize: buffer)
            let expected = try #require(StatCache(encoded: bytes, timestampNs: .max))
            #expect(!read.entries.isEmpty)
            #expect(read.entries == expected.entries, "\(name)")
            #expect(read.timestampNs == nil && expected.timestampNs == nil, "\(name): version 1 vouches for nothing")
        }
    }

    /// A read that fails (a directory where the file should be: `EISDIR`) throws, naming the path, as reading the
    /// whole file did.
    @Test func aReadErrorThrows() throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        try FileSystem.makeDirectories(dir["state"])
        #expect(throws: SmartSyncError.self) { try TargetState.read(from: dir["state"]) }
        #expect(throws: SmartSyncError.self) { try StatCache.load(from: dir["state"]) }
        #expect(throws: SmartSyncError.self) { try FileSystem.readFileIfPresent(dir["state"]) }
    }

    /// With `regularOnly` (the gc's reads of generation states) a symlink to a state is not followed and a FIFO does
    /// not block: both read as none; without it the symlink is followed.
    @Test func regularOnlyReadsNoSymlinkAndNoFIFO() throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        let small = Self.smallState()
        try StateFileReadTests.save(dir["state"], small.encoded())
        try #require(symlink(dir["state"], dir["link"]) == 0)
        try #require(mkfifo(dir["fifo"], 0o600) == 0)
        #expect(try TargetState.read(from: dir["state"], regularOnly: true) == small)
        #expect(try TargetState.read(from: dir["link"], regularOnly: true) == nil)
        #expect(try TargetState.read(from: dir["link"]) == small)
        #expect(try TargetState.read(from: dir["fifo"], regularOnly: true) == nil)
        #expect(try TargetState.read(from: dir["none"], regularOnly: true) == nil)
    }

    /// A read that fails after the decoder has taken all it wanted, while the reader reads on to prove the checksum
    /// (the file's descriptor made a directory's: `EISDIR`), throws: an error, not a damaged file read as none.
    @Test func aReadErrorAfterTheDecoderStoppedThrows() throws {
        let dir = try TemporaryDirectory(prefix: "binary-reader")
        defer { dir.remove() }
        try FileSystem.makeDirectories(dir["d"])
        try StateFileReadTests.save(dir["m"], ReadOrderTests.manifestBytes((0..<20).map { TreePath("p\($0)") }))
        var st = stat()
        try #require(stat(dir["m"], &st) == 0)
        let directory = open(dir["d"], O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(directory >= 0)
        defer { close(directory) }
        let next = open("/dev/null", O_RDONLY | O_CLOEXEC)  // the descriptor the file will be opened on
        try #require(next >= 0)
        close(next)
        var decoded = false
        #expect(throws: SmartSyncError.self) {
            try BinaryReader.decodeFile(dir["m"], magic: "TEST", versions: 1...1, bufferSize: 64) { r, _ -> Manifest? in
                let manifest = Manifest(reading: &r)
                var open = stat()
                guard fstat(next, &open) == 0, open.st_ino == st.st_ino, dup2(directory, next) == next else {
                    return nil
                }
                decoded = manifest != nil
                return manifest
            }
        }
        #expect(decoded)
    }
}
