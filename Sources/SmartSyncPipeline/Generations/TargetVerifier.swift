import Glibc
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Re-hashes a target against the manifest of its last sync, and the store objects it links.
///
/// Target files are hardlinks of read-only store objects; a program that opens one for writing anyway (as root)
/// changes the object too. A full re-hash, with no stat cache, finds that, as well as files edited, replaced,
/// retyped or deleted since the sync.
public struct TargetVerifier: Sendable {
    public init() {}

    /// One path whose content is not what the last sync put there.
    public struct Finding: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable {
            /// The content differs.
            case modified
            /// The path is gone.
            case missing
            /// A file became a symlink or directory (or the other way round), or its exec bit flipped.
            case typeChanged = "type-changed"
        }

        public var kind: Kind
        public var path: TreePath
        /// What the manifest expects.
        public var expected: ObjectID
        /// What is there now, when it could be hashed.
        public var found: ObjectID?
    }

    /// What ``verify(target:manifest:store:)`` found.
    public struct Report: Sendable, Codable, Equatable {
        /// Paths checked.
        public var checked = 0
        /// Paths that differ from the manifest.
        public var findings: [Finding] = []
        /// Store objects whose bytes no longer hash to their name, or whose mode is no longer read-only
        /// (`0444`, executable twins `0555`): changed through a target's hardlink.
        public var corruptObjects: [ObjectID] = []

        /// True when the target and its store objects are exactly as the last sync left them.
        public var isIntact: Bool { findings.isEmpty && corruptObjects.isEmpty }
    }

    /// Checks every manifest path of `target`, and every store object those paths use.
    public func verify(target: String, manifest: Manifest, store: ObjectStore) throws -> Report {
        var report = Report()
        var objectsChecked = Set<String>()
        let tree = try TreeReader(root: target)
        for (path, entry) in manifest.entries.sorted(by: { $0.key < $1.key }) {
            report.checked += 1
            guard let st = try tree.status(path) else {
                report.findings.append(Finding(kind: .missing, path: path, expected: entry.id, found: nil))
                continue
            }
            let format = st.st_mode & S_IFMT
            let found: ObjectID
            switch (entry.mode, format) {
            case (.symlink, S_IFLNK):
                found = ObjectID.blob(try tree.readLink(path))
            case (.regular, S_IFREG), (.executable, S_IFREG):
                let executable = st.st_mode & 0o100 != 0
                guard let hashed = try tree.hashFile(path)?.id else {
                    report.findings.append(Finding(kind: .missing, path: path, expected: entry.id, found: nil))
                    continue
                }
                found = hashed
                if executable != (entry.mode == .executable) {
                    report.findings.append(Finding(kind: .typeChanged, path: path, expected: entry.id, found: found))
                    continue
                }
            default:
                report.findings.append(Finding(kind: .typeChanged, path: path, expected: entry.id, found: nil))
                continue
            }
            if found != entry.id {
                report.findings.append(Finding(kind: .modified, path: path, expected: entry.id, found: found))
            }
            // The objects behind the links: the plain object and, for executables, its twin.
            var objectPaths: [(String, mode_t)] = [(store.path(for: entry.id), 0o444)]
            if entry.mode == .executable { objectPaths.append((store.path(for: entry.id) + ".x", 0o555)) }
            for (objectPath, mode) in objectPaths where objectsChecked.insert(objectPath).inserted {
                var ost = stat()
                guard lstat(objectPath, &ost) == 0 else { continue }
                let damaged =
                    try (ost.st_mode & S_IFMT) != S_IFREG || (ost.st_mode & 0o7777) != mode
                    || BlobHasher.hashFile(atPath: objectPath).id != entry.id
                if damaged, !report.corruptObjects.contains(entry.id) { report.corruptObjects.append(entry.id) }
            }
        }
        return report
    }

    /// Moves damaged objects (and their executable twins) into the store's quarantine so the next sync fetches them
    /// again. The inodes stay alive wherever a target still links them, and the quarantine names them.
    public func discard(_ objects: [ObjectID], from store: ObjectStore) throws {
        for id in objects {
            try store.quarantine(
                id, reason: "`smart-sync verify` found it damaged (written through a target's hard link)")
        }
    }
}
