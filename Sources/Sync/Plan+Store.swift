#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import GitObjects
import ObjectStore

extension Plan {
    /// The needed blobs `store` does not hold yet.
    public func missingBlobs(in store: ObjectStore) -> [NeededBlob] {
        blobsNeeded.filter { !store.contains($0.id) }
    }

    /// Copies into `store` the missing blobs whose content already sits in the target (moved files, mode
    /// changes), verified by hash. Failures are ignored: those blobs are simply still missing.
    /// Returns the ids inserted.
    @discardableResult
    public func seedStore(_ store: ObjectStore, fromTarget target: String) -> [ObjectID] {
        var seeded: [ObjectID] = []
        for blob in blobsNeeded {
            guard let local = blob.localPath, !store.contains(blob.id) else { continue }
            if (try? store.insertFile(atPath: target + "/" + local, expecting: blob.id)) != nil {
                seeded.append(blob.id)
            }
        }
        return seeded
    }
}

extension StatCache {
    /// Records the files an applied plan wrote (their stat and id) and forgets deleted paths, so the next
    /// scan does not re-hash what this run just put there.
    public mutating func record(_ plan: Plan, target: String) {
        var st = stat()
        for c in plan.changes {
            switch c.kind {
            case .delete:
                entries[c.path] = nil
            case .add, .modify, .mode, .typeChange, .unchanged:
                // Unchanged files too: a staged switch links them anew, which changes their ctime.
                guard let id = c.id, c.mode == .regular || c.mode == .executable else {
                    entries[c.path] = nil
                    continue
                }
                if lstat(target + "/" + c.path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG {
                    let data = StatData(
                        device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                        mtimeNs: Timestamps.mtimeNs(st), ctimeNs: Timestamps.ctimeNs(st), mode: UInt32(st.st_mode))
                    entries[c.path] = Entry(stat: data, id: id)
                } else {
                    entries[c.path] = nil
                }
            case .symlink:
                entries[c.path] = nil
            default:
                break
            }
        }
    }
}
