import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The writer's one-pass encoders (a room check an entry, fields stored through a raw pointer) write byte for byte
/// what the formats define: each file is built here again from the definition (field order, little-endian, a path's
/// u32 length then its bytes, the SHA-1 of all before it last), for random tables (paths of 0 to 300 bytes, some not
/// UTF-8, an empty table; seeded, so a failing case is reproduced by its arguments), and reads back as what was
/// written.
@Suite struct BinaryWriterTests {
    /// A reference encoder, byte by byte from the format's definition (nothing of ``BinaryWriter``).
    struct Reference {
        var bytes: [UInt8] = []
        init(magic: String, version: UInt32) {
            bytes = Array(magic.utf8)
            u32(version)
        }
        mutating func le(_ v: UInt64, _ width: Int) {
            for k in 0..<width { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
        }
        mutating func u32(_ v: UInt32) { le(UInt64(v), 4) }
        mutating func u64(_ v: UInt64) { le(v, 8) }
        mutating func i64(_ v: Int64) { le(UInt64(bitPattern: v), 8) }
        mutating func id(_ id: ObjectID) { bytes += Array(hexBytes: id.hex) }
        mutating func counted(_ b: [UInt8]) {
            u32(UInt32(b.count))
            bytes += b
        }
        mutating func manifest(_ m: Manifest) {
            u32(UInt32(m.count))
            for (path, e) in m.entries {
                counted(path.bytes)
                u32(e.mode.rawValue)
                id(e.id)
            }
        }
        func finished() -> [UInt8] {
            let digest = SHA1Hasher()
            digest.update(bytes)
            return bytes + Array(hexBytes: digest.finalize().hex)
        }
    }

    /// Random sorted paths: lengths 0 to 300 (the empty path at most once), one in five not valid UTF-8.
    static func paths<G: RandomNumberGenerator>(_ n: Int, _ g: inout G) -> [TreePath] {
        var seen = Set<[UInt8]>()
        var out: [TreePath] = []
        while out.count < n {
            let length = Int.random(in: 0...300, using: &g)
            let invalid = Int.random(in: 0..<5, using: &g) == 0
            var b = (0..<length).map { _ in UInt8.random(in: 0x61...0x7A, using: &g) }
            if invalid { b.append(contentsOf: [0xC3, 0x28, 0xFF]) }
            if seen.insert(b).inserted { out.append(TreePath(bytes: b)) }
        }
        return out.sorted()
    }

    static func id<G: RandomNumberGenerator>(_ g: inout G) -> ObjectID {
        ObjectID(bytes: (0..<20).map { _ in UInt8.random(in: 0...255, using: &g) })!
    }

    /// (entries, seed) pairs.
    static let cases: [(Int, UInt64)] = [(0, 1), (1, 2), (2, 3), (17, 4), (500, 5)]

    @Test(arguments: cases)
    func statCacheIsTheFormatByteForByte(count: Int, seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        let paths = Self.paths(count, &g)
        let values = paths.map { _ in
            StatCache.Entry(
                stat: StatData(
                    device: .random(in: 0...UInt64.max, using: &g), inode: .random(in: 0...UInt64.max, using: &g),
                    size: .random(in: Int64.min...Int64.max, using: &g),
                    mtimeNs: .random(in: Int64.min...Int64.max, using: &g),
                    ctimeNs: .random(in: Int64.min...Int64.max, using: &g),
                    mode: .random(in: 0...UInt32.max, using: &g)),
                id: Self.id(&g))
        }
        let cache = StatCache(entries: PathTable(keysInOrder: paths, values: values), timestampNs: 1)
        var r = Reference(magic: "SSSC", version: 2)
        r.u32(UInt32(count))
        for (path, e) in zip(paths, values) {
            r.counted(path.bytes)
            r.u64(e.stat.device)
            r.u64(e.stat.inode)
            r.i64(e.stat.size)
            r.i64(e.stat.mtimeNs)
            r.i64(e.stat.ctimeNs)
            r.u32(e.stat.mode)
            r.id(e.id)
        }
        let encoded = cache.encoded()
        #expect(encoded == r.finished())
        let back = try #require(StatCache(encoded: encoded, timestampNs: 1))
        #expect(back.entries.keys == paths)
        #expect(back.entries.values == values)
    }

    @Test(arguments: cases)
    func stateIsTheFormatByteForByte(count: Int, seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        func manifest(_ n: Int) -> Manifest {
            let paths = Self.paths(n, &g)
            let modes: [FileMode] = [.regular, .executable, .symlink]
            return Manifest(
                entries: PathTable(
                    keysInOrder: paths,
                    values: paths.map { _ in .init(mode: modes.randomElement(using: &g)!, id: Self.id(&g)) }))
        }
        // A target and ref of every length class (empty, short, one not ASCII), kept and pending sections present.
        var state = TargetState(
            target: "/srv/tärget-\(count)", commit: Self.id(&g), ref: count == 0 ? "" : "main",
            appliedAtNs: .random(in: Int64.min...Int64.max, using: &g), manifest: manifest(count))
        state.keptLocal = manifest(count / 2)
        state.pendingDeletes = manifest(count % 3)
        var r = Reference(magic: "SSST", version: 1)
        r.counted(Array(state.target.utf8))
        r.id(state.commit)
        r.counted(Array(state.ref.utf8))
        r.i64(state.appliedAtNs)
        r.manifest(state.manifest)
        if !state.keptLocal.isEmpty || !state.pendingDeletes.isEmpty { r.manifest(state.keptLocal) }
        if !state.pendingDeletes.isEmpty { r.manifest(state.pendingDeletes) }
        let encoded = state.encoded()
        #expect(encoded == r.finished())
        #expect(TargetState(encoded: encoded) == state)
    }

    @Test(arguments: cases)
    func pinIsTheFormatByteForByte(count: Int, seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        let modes: [FileMode] = [.regular, .executable, .symlink]
        // Sizes known and unknown (nil, written as -1).
        let entries = Self.paths(count, &g).map { path in
            TreeEntry(
                path: path, mode: modes.randomElement(using: &g)!, id: Self.id(&g),
                size: Bool.random(using: &g) ? nil : .random(in: 0...TreeEntry.sizeLimit, using: &g))
        }
        let pin = Pin(
            name: count == 0 ? "" : "rélease-\(count)", pinnedAtNs: .random(in: Int64.min...Int64.max, using: &g),
            listing: TreeListing(commit: Self.id(&g), rootTree: Self.id(&g), entries: entries))
        var r = Reference(magic: "SSPN", version: 1)
        r.counted(Array(pin.name.utf8))
        r.i64(pin.pinnedAtNs)
        r.id(pin.listing.commit)
        r.id(pin.listing.rootTree)
        r.u32(UInt32(count))
        for e in entries {
            r.counted(e.path.bytes)
            r.u32(e.mode.rawValue)
            r.id(e.id)
            r.i64(Int64(e.size ?? -1))
        }
        let encoded = pin.encoded()
        #expect(encoded == r.finished())
        #expect(Pin(encoded: encoded) == pin)
    }

    /// Excludes known (none, one, several with a non-ASCII glob) and unknown (nil).
    @Test(arguments: [nil, [], ["*.log"], ["a/**", "tmp/*", "ünï/*.bak"]] as [[String]?])
    func excludesAreTheFormatByteForByte(excludes: [String]?) {
        var g = SplitMix64(seed: 7)
        var state = TargetState(
            target: "/srv/t", commit: Self.id(&g), ref: "main",
            appliedAtNs: .random(in: Int64.min...Int64.max, using: &g), manifest: Manifest())
        state.excludes = excludes
        var r = Reference(magic: "SSEX", version: 1)
        r.id(state.commit)
        r.i64(state.appliedAtNs)
        r.u32(excludes == nil ? 0 : 1)
        r.u32(UInt32(excludes?.count ?? 0))
        for glob in excludes ?? [] { r.counted(Array(glob.utf8)) }
        #expect(StateStore.encodedExcludes(of: state) == r.finished())
    }

    /// Appends past the first room (a writer made with none) grow it and keep every byte: the same file as one sized
    /// exactly.
    @Test(arguments: [UInt64(6)])
    func growingKeepsEveryByte(seed: UInt64) {
        var g = SplitMix64(seed: seed)
        let paths = Self.paths(300, &g)
        var w = BinaryWriter(magic: "TEST", version: 3)
        var r = Reference(magic: "TEST", version: 3)
        for (k, path) in paths.enumerated() {
            w.append(path)
            w.append(UInt64(k) << 40 | 0xAB)
            w.append("s\(k)")
            r.counted(path.bytes)
            r.u64(UInt64(k) << 40 | 0xAB)
            r.counted(Array("s\(k)".utf8))
        }
        #expect(w.bytes == r.bytes)
        #expect(w.finish() == r.finished())
    }

    /// A body written in the room reserved for it leaves room for the trailer: ``BinaryWriter/finish()`` does not
    /// grow the buffer again (room already there for the body, but not for the trailer too, was not grown).
    @Test func reserveCountsTheTrailer() {
        var w = BinaryWriter(magic: "TEST", version: 1, reserve: 50)
        w.reserve(60)
        for k in 0..<15 { w.append(UInt32(k)) }
        #expect(w.room >= 20)
    }

    /// An entry putting more than it declared traps at the store that would pass its room (not after writing past
    /// it, over the next entry's room or the allocation's end): the message is the store's, not the final size check's.
    @Test func anEntryWritingPastItsSizeTrapsBeforeTheStore() async throws {
        let result = try await #require(
            processExitsWith: .failure, observing: [\.standardErrorContent]
        ) {
            var w = BinaryWriter(magic: "TEST", version: 1)
            w.append(size: 4) { $0.put(UInt64(0x0102_0304_0506_0708)) }
        }
        let stderr = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(stderr.contains("entry writes past its declared size"), "\(stderr)")
    }
}

extension Array where Element == UInt8 {
    /// The bytes of lowercase hex digits (an id's raw bytes, a pinned file).
    init(hexBytes hex: String) {
        let digits = Array(hex.utf8).map { $0 <= 0x39 ? $0 - 0x30 : $0 - 0x61 + 10 }
        self = stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}
