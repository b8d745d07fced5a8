import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// A commit `warm --pin` keeps in the store: gc treats it as a root, so a later sync of it downloads no blob.
public struct Pin: Sendable, Hashable {
    /// The name it is pinned under (the ref as warmed).
    public var name: String
    /// When it was pinned, ns since the epoch.
    public var pinnedAtNs: Int64
    /// The commit's verified listing (trees included): what gc keeps, and where `fsck --repair` finds a path to
    /// fetch a blob by (the raw transport stores no tree objects to read it from).
    public var listing: TreeListing

    /// The pinned commit.
    public var commit: ObjectID { listing.commit }

    public init(name: String, pinnedAtNs: Int64, listing: TreeListing) {
        self.name = name
        self.pinnedAtNs = pinnedAtNs
        self.listing = listing
    }

    static let magic: StaticString = "SSPN"
    static let version: UInt32 = 1

    func encoded() -> [UInt8] {
        var w = BinaryWriter(magic: Self.magic, version: Self.version, reserve: listing.entries.count * 72)
        w.append(name)
        w.append(pinnedAtNs)
        w.append(listing.commit)
        w.append(listing.rootTree)
        w.append(UInt32(listing.entries.count))
        for e in listing.entries {
            w.append(e.path)
            w.append(e.mode.rawValue)
            w.append(e.id)
            w.append(Int64(e.size ?? -1))
        }
        return w.finish()
    }

    init?(encoded bytes: [UInt8]) {
        guard let pin = bytes.withUnsafeBufferPointer({ Self(encoded: $0) }) else { return nil }
        self = pin
    }

    /// ``init(encoded:)`` of bytes it does not own (valid while it runs).
    init?(encoded bytes: UnsafeBufferPointer<UInt8>) {
        guard var r = BinaryReader(bytes, magic: Self.magic, version: Self.version), let name = r.readString(),
            let at = r.readInt64(), let commit = r.readID(), let root = r.readID(), let count = r.readUInt32()
        else { return nil }
        var entries: [TreeEntry] = []
        entries.reserveCapacity(Int(min(count, 1 << 20)))
        for _ in 0..<count {
            guard let path = r.readPath(), let raw = r.readUInt32(), let mode = FileMode(rawValue: raw),
                let id = r.readID(), let size = r.readInt64()
            else { return nil }
            entries.append(TreeEntry(path: path, mode: mode, id: id, size: size < 0 ? nil : Int(size)))
        }
        guard r.isAtEnd else { return nil }
        self.init(name: name, pinnedAtNs: at, listing: TreeListing(commit: commit, rootTree: root, entries: entries))
    }
}

/// The pins of a store, one file each: `<store>/pins/<SHA-1 of the name>` (binary, checksummed like the state
/// files), written atomically, and beside them `index` (``PinIndex``): the pinned commits by id with what the commit
/// checks need (the commit's object, what the source said of its ancestry), so a sync finds a pin by commit reading
/// one small file. In the store rather than the state directory because what they keep is store content, shared by
/// every state directory that uses the store, and wiping the cache takes them along with it.
///
/// Pin files keep the format of earlier releases (which read the store as before and ignore the index). Changes
/// (``pin(_:listing:commitObject:ancestry:atNs:)``, ``remove(_:)``, and a rebuild of an index that no longer matches
/// the files) hold `pins/lock`, write the pin file first and the index second; a reader that finds the files changed
/// behind the index (a store of an earlier release, a run killed between the two writes, an earlier release pinning)
/// rebuilds it, decoding only the files that changed.
public struct PinStore: Sendable {
    /// `<store>/pins`.
    public let directory: String

    public init(store: ObjectStore) {
        directory = store.root + "/pins"
    }

    var indexPath: String { directory + "/index" }

    /// How long a change waits for another run's (each holds the lock for a few file writes).
    static let lockWait: Duration = .seconds(60)

    /// Pins `listing`'s commit under `name`, replacing an earlier pin of that name, and records what the commit checks
    /// need of it offline: its object (`commitObject`: it must hash to the commit and name the listing's root tree)
    /// and what the source said of its ancestry (merged with what was known). The listing must be verified. Returns
    /// the index as written.
    @discardableResult
    public func pin(
        _ name: String, listing: TreeListing, commitObject: [UInt8]? = nil, ancestry: [AncestryFact] = [],
        atNs: Int64 = Timestamps.nowNs()
    ) async throws -> PinIndex {
        try Self.check(name)
        if let commitObject, !PinIndex.checked(commitObject, commit: listing.commit, rootTree: listing.rootTree) {
            throw SmartSyncError(
                .integrity,
                "the object given for commit \(listing.commit) does not hash to it or names another tree than "
                    + "\(listing.rootTree); not pinned")
        }
        try FileSystem.makeDirectories(directory)
        let pin = Pin(name: name, pinnedAtNs: atNs, listing: listing)
        return try await locked {
            try FileSystem.writeFileAtomically(path(for: name), pin.encoded())
            var index = try rebuild()
            index.learn(listing.commit, commitObject: commitObject, ancestry: ancestry)
            try index.record.write(to: indexPath)
            return index
        }
    }

    /// The index of the pins: read, or rebuilt first when the pin files changed behind it (and written, when the
    /// store can be written; otherwise used as rebuilt). Empty when there are no pins.
    public func index() async throws -> PinIndex {
        guard let scanned = try scan() else { return PinIndex() }
        let stored = readIndex()
        if let stored, stored.matches(scanned) { return stored }
        if stored == nil && scanned.isEmpty { return PinIndex() }
        do {
            return try await locked {
                let scanned = try scan() ?? [:]
                let stored = readIndex()
                if let stored, stored.matches(scanned) { return stored }
                let index = PinIndex.rebuild(files: scanned, previous: stored, decode: decode)
                try index.record.write(to: indexPath)
                return index
            }
        } catch let error as SmartSyncError where error.code != .cancelled {
            // A store this run cannot write (or a lock held too long): the pins are still usable, as rebuilt.
            return PinIndex.rebuild(files: scanned, previous: stored, decode: decode)
        }
    }

    /// The listing of `pinned` from the first of its pin files that still pins that commit and tree; nil when none
    /// does (damaged, or replaced since the index was read).
    public func listing(of pinned: PinnedCommit) -> TreeListing? {
        for file in pinned.files {
            guard let (bytes, _) = try? FileSystem.readFileIfPresent(directory + "/" + file),
                let pin = Pin(encoded: bytes), pin.commit == pinned.commit, pin.listing.rootTree == pinned.rootTree
            else { continue }
            return pin.listing
        }
        return nil
    }

    /// Every readable pin, by name, each with its listing (gc, `fsck --repair`, `smart-sync pins`). A damaged file is
    /// skipped (it keeps nothing).
    public func list() throws -> [Pin] {
        guard let names = try? FileSystem.names(in: directory) else { return [] }
        var pins: [Pin] = []
        for name in names where ObjectID(hex: name) != nil {
            guard let (bytes, _) = try FileSystem.readFileIfPresent(directory + "/" + name),
                let pin = Pin(encoded: bytes)
            else { continue }
            pins.append(pin)
        }
        return pins.sorted { $0.name < $1.name }
    }

    /// The pin named `name`, if any.
    public func pin(named name: String) throws -> Pin? {
        try FileSystem.readFileIfPresent(path(for: name)).flatMap { Pin(encoded: $0.bytes) }
    }

    /// Removes the pin `name`; false when there was none.
    @discardableResult
    public func remove(_ name: String) async throws -> Bool {
        guard FileSystem.exists(directory) else { return false }
        return try await locked {
            let path = path(for: name)
            guard unlink(path) == 0 else {
                if errno == ENOENT { return false }
                throw SmartSyncError.io("unlink", path: path)
            }
            FileSystem.syncDirectory(directory)
            try rebuild().record.write(to: indexPath)
            return true
        }
    }

    // MARK: - Index upkeep

    /// Runs `body` holding `pins/lock`.
    private func locked<T>(_ body: () throws -> T) async throws -> T {
        let lock = try await FileLock.acquire(
            path: directory + "/lock", what: "the pins of the store", shared: false, waitingUpTo: Self.lockWait)
        defer { lock.release() }
        return try body()
    }

    /// The index rebuilt from the pin files as they are now (the caller holds the lock).
    private func rebuild() throws -> PinIndex {
        PinIndex.rebuild(files: try scan() ?? [:], previous: readIndex(), decode: decode)
    }

    private func decode(_ file: String) -> Pin? {
        (try? FileSystem.readFileIfPresent(directory + "/" + file)).flatMap { $0.flatMap { Pin(encoded: $0.bytes) } }
    }

    /// The index file; nil when there is none or it is damaged (then rebuilt from the pin files: it only loses what
    /// warm learned of ancestry and commit objects).
    private func readIndex() -> PinIndex? {
        (try? PinIndex.Record.read(at: indexPath))?.map { PinIndex($0.record) }
    }

    /// The pin files (names that are SHA-1 hex) with their inodes, from the directory alone; nil when there is no
    /// pins directory.
    private func scan() throws -> [String: UInt64]? {
        guard let dir = opendir(directory) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SmartSyncError.io("opendir", path: directory)
        }
        defer { closedir(dir) }
        var files: [String: UInt64] = [:]
        for entry in try directoryEntriesWithInodes(stream: dir, display: directory) {
            let name = entry.name.description
            if ObjectID(hex: name) != nil { files[name] = entry.inode }
        }
        return files
    }

    private func path(for name: String) -> String {
        directory + "/" + ObjectID.hash(.blob, Array(name.utf8)).hex
    }

    private static func check(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= 255, !name.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw SmartSyncError(
                .invalidArgument, "'\(name)' cannot be a pin name: give 1 to 255 bytes with no newline or NUL")
        }
    }
}
