import Glibc
import SmartSyncGitObjects
import SmartSyncObjectStore

extension Plan {
    /// The needed blobs `store` does not hold intact: absent, in `damaged`, or failing the check before linking
    /// (``ObjectStore/condition(of:size:repair:)``). With `repair`, damaged objects are quarantined on the way.
    public func missingBlobs(in store: ObjectStore, repair: Bool, damaged: Set<ObjectID> = []) throws -> [NeededBlob] {
        try blobsNeeded.filter { blob in
            if damaged.contains(blob.id) { return true }
            return try !store.holds(blob.id, size: blob.size, repair: repair)
        }
    }

    /// Copies into `store` the missing blobs whose content already sits in the target (moved files, mode
    /// changes), verified by hash. Failures are ignored: those blobs are simply still missing.
    /// Returns the ids inserted.
    @discardableResult
    public func seedStore(_ store: ObjectStore, fromTarget target: String) -> [ObjectID] {
        var seeded: [ObjectID] = []
        guard let reader = try? TreeReader(root: target, blockedIsMissing: true) else { return [] }
        for blob in blobsNeeded {
            guard let local = blob.localPath, !((try? store.holds(blob.id, size: blob.size, repair: true)) ?? false)
            else {
                continue
            }
            if (try? reader.insert(local, mode: .regular, into: store, expecting: blob.id)) != nil {
                seeded.append(blob.id)
            }
        }
        return seeded
    }
}

extension StatCache {
    /// Records the files an applied plan wrote (their stat and id) and forgets deleted paths, so the next
    /// scan does not re-hash what this run just put there.
    ///
    /// `known` holds stat data the apply already has for paths it left as they were (a recycled stage's files): those
    /// are not looked at again.
    public mutating func record(_ plan: Plan, target: String, known: PathTable<StatData> = [:]) {
        let reader = try? TreeReader(root: target, blockedIsMissing: true)
        // One merge of the cache with the plan's changes (both in path order) into a new table.
        var out = PathTable<Entry>()
        out.reserveCapacity(max(entries.count, plan.changes.count))
        var seen = PathTable<StatData>.Cursor(known)
        for step in MergeJoin(entries.keys, plan.changes.map { $0.path }) {
            let old: Entry?
            let c: Change
            switch step {
            case .left(let i):
                out.append(entries.keys[i], entries.values[i])
                continue
            case .right(let j):
                (old, c) = (nil, plan.changes[j])
            case .both(let i, let j):
                (old, c) = (entries.values[i], plan.changes[j])
            }
            switch c.kind {
            case .delete, .symlink:
                continue
            case .add, .modify, .mode, .typeChange, .unchanged:
                // Unchanged files too: a staged switch links them anew, which changes their ctime.
                guard let id = c.id, c.mode == .regular || c.mode == .executable else { continue }
                if let data = seen.seek(c.path) {
                    out.append(c.path, Entry(stat: data, id: id))
                } else if let st = try? reader?.status(c.path), (st.st_mode & S_IFMT) == S_IFREG,
                    Seal.breach(of: st, executable: c.mode == .executable, size: nil) == nil
                {
                    // Only while its seal holds: a file written to since it was placed is hashed by the next scan.
                    out.append(c.path, Entry(stat: StatData(st), id: id))
                }
            default:
                if let old { out.append(c.path, old) }
            }
        }
        entries = out
    }
}

extension ObjectStore {
    /// Blobs of `previous` whose store object is the very inode of a target file that no longer hashes to it: the
    /// file was written in place through a hard link, so the object was too, whatever its metadata says (a copy that
    /// kept the sealed time and the size passes the seal; only the scan, through the ctime, saw the write). One
    /// `lstat` per file that changed since the last sync.
    public func objectsEditedThrough(_ local: LocalTree, previous: Manifest) -> [DamagedObject] {
        var damaged: [DamagedObject] = []
        var st = stat()
        var before = PathTable.Cursor(previous.entries)
        // By index, each entry read in place (a `for (path, entry)` copies every one out, with its retains).
        let paths = local.entries.keys
        let entries = local.entries.values
        for j in entries.indices where entries[j].kind == .regular || entries[j].kind == .executable {
            guard let was = before.seek(paths[j]), was.mode.isBlob, was.mode != .symlink, entries[j].id != was.id else {
                continue
            }
            let entry = entries[j]
            // An executable links the object's `0555` twin, a file of its own.
            let twin = was.mode == .executable
            guard lstat(self.path(for: was.id) + (twin ? ".x" : ""), &st) == 0 else { continue }
            let identity = FileIdentity(st)
            if identity == FileIdentity(device: entry.stat.device, inode: entry.stat.inode) {
                damaged.append(DamagedObject(id: was.id, twin: twin, identity: identity))
            }
        }
        return damaged
    }
}

/// A store object (or its executable twin) found written through a target's hard link.
public struct DamagedObject: Sendable, Hashable {
    public var id: ObjectID
    /// Only the `0555` twin is damaged; the object itself (a file of its own) is not.
    public var twin: Bool
    /// The damaged inode.
    public var identity: FileIdentity
}
