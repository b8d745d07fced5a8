import SmartSyncCore
import SmartSyncGitObjects

/// A root tree's listing as the mirror serves it: the bytes of `git ls-tree -r -t -l -z --full-tree <tree>`, and
/// what a pack of its commit needs.
struct PublishListing: Sendable {
    /// The listing file's bytes.
    var bytes: [UInt8]
    /// Each blob's id, once (submodule entries are no objects of this repository).
    var blobs: [ObjectID]
    /// Every tree and blob below the root, with its path (git's delta heuristics group by it).
    var objects: [(id: ObjectID, path: ArraySlice<UInt8>)]

    /// Parses ls-tree's `<mode> SP <type> SP <id> SP+ <size> TAB <path> NUL` records.
    init(bytes: [UInt8], tree: ObjectID) throws {
        self.bytes = bytes
        var blobs: [ObjectID] = []
        var seen = Set<ObjectID>()
        var objects: [(id: ObjectID, path: ArraySlice<UInt8>)] = []
        for record in bytes.split(separator: 0) {
            guard let tab = record.firstIndex(of: UInt8(ascii: "\t")) else {
                throw SmartSyncError(.malformedResponse, "unexpected git ls-tree output for tree \(tree)")
            }
            let fields = record[record.startIndex..<tab].split(separator: UInt8(ascii: " "))
            guard fields.count == 4, let id = ObjectID(hex: String(decoding: fields[2], as: UTF8.self)) else {
                throw SmartSyncError(.malformedResponse, "unexpected git ls-tree output for tree \(tree)")
            }
            switch String(decoding: fields[1], as: UTF8.self) {
            case "blob":
                if seen.insert(id).inserted { blobs.append(id) }
                objects.append((id, record[(tab + 1)...]))
            case "tree": objects.append((id, record[(tab + 1)...]))
            default: break  // a submodule's commit
            }
        }
        self.blobs = blobs
        self.objects = objects
    }
}
