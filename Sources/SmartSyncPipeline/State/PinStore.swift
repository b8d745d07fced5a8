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
/// files), written atomically. In the store rather than the state directory because what they keep is store
/// content, shared by every state directory that uses the store, and wiping the cache takes them along with it.
public struct PinStore: Sendable {
    /// `<store>/pins`.
    public let directory: String

    public init(store: ObjectStore) {
        directory = store.root + "/pins"
    }

    /// Pins `listing`'s commit under `name`, replacing an earlier pin of that name. The listing must be verified.
    public func pin(_ name: String, listing: TreeListing, atNs: Int64 = Timestamps.nowNs()) throws {
        try Self.check(name)
        try FileSystem.makeDirectories(directory)
        let pin = Pin(name: name, pinnedAtNs: atNs, listing: listing)
        try FileSystem.writeFileAtomically(path(for: name), pin.encoded())
    }

    /// Every readable pin, by name. A damaged file is skipped (it keeps nothing).
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
    public func remove(_ name: String) throws -> Bool {
        let path = path(for: name)
        if unlink(path) == 0 {
            FileSystem.syncDirectory(directory)
            return true
        }
        if errno == ENOENT { return false }
        throw SmartSyncError.io("unlink", path: path)
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
