import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// A file's identity on its machine: device and inode.
public struct FileIdentity: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    public init(_ st: stat) {
        self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}

extension ObjectStore {
    /// `root/quarantine`: damaged objects moved out of `objects/`, kept for inspection.
    public var quarantineDirectory: String { root + "/quarantine" }

    /// Moves the object `id` (and its executable twin) out of `objects/` into the quarantine, with a note of why, so
    /// the next fetch publishes a good copy. Returns the quarantined path, or nil when the object was not there.
    ///
    /// - Parameters:
    ///   - twin: move only the `0555` twin (damaged through an executable's hard link; the object itself is intact
    ///     and the twin is made again from it).
    ///   - expecting: the damaged file's identity: when the name now holds another inode (a concurrent run published
    ///     a good copy meanwhile), nothing is moved.
    ///
    /// The inode lives on in the quarantine, wherever a target or generation still links it, so its identity cannot
    /// be reused while the quarantine holds it: ``quarantinedIdentities()`` names the damaged inodes.
    @discardableResult
    public func quarantine(_ id: ObjectID, reason: String, twin: Bool = false, expecting: FileIdentity? = nil) throws
        -> String?
    {
        try FileSystem.makeDirectories(quarantineDirectory, mode: 0o700)
        let name = FileSystem.temporaryName(id.hex + ".")
        let destination = quarantineDirectory + "/" + name + (twin ? ".x" : "")
        let source = path(for: id) + (twin ? ".x" : "")
        if let expecting {
            var st = stat()
            guard lstat(source, &st) == 0, FileIdentity(st) == expecting else { return nil }
        }
        guard rename(source, destination) == 0 else {
            let err = errno  // read before the message is built (it allocates)
            if err == ENOENT { return nil }
            throw SmartSyncError.io(
                "rename", path: source, errno: err, hint: "Check that \(quarantineDirectory) is writable")
        }
        if !twin, rename(source + ".x", destination + ".x") != 0 {
            let err = errno
            if err != ENOENT { throw SmartSyncError.io("rename", path: source + ".x", errno: err) }
        }
        try QuarantineNote(id: id.hex, time: Int64(time(nil)), reason: reason, twinOnly: twin)
            .write(to: quarantineDirectory + "/" + name + ".why", mode: 0o600)
        return destination
    }

    /// The device and inode of every quarantined object file: a target or generation file with one of these
    /// identities holds damaged content, whatever its metadata says.
    public func quarantinedIdentities() throws -> Set<FileIdentity> {
        var identities: Set<FileIdentity> = []
        var st = stat()
        guard lstat(quarantineDirectory, &st) == 0 else { return [] }
        for name in try FileSystem.names(in: quarantineDirectory) where !name.hasSuffix(".why") {
            if lstat(quarantineDirectory + "/" + name, &st) == 0 { identities.insert(FileIdentity(st)) }
        }
        return identities
    }
}
