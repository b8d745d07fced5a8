import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// What `fsck` makes of the quarantine: which quarantined objects a root still needs and the store lacks, and, with
/// `--repair`, bringing them back: from the quarantined copy when its content is intact (only its mode was wrong),
/// else from the source (blobs by a commit and path a root gives; commit and tree objects by asking the source for
/// the commit's listing, which the pack transport stores).
public struct StoreRepair: Sendable {
    public let store: ObjectStore
    public let roots: StoreRoots

    public init(store: ObjectStore, roots: StoreRoots) {
        self.store = store
        self.roots = roots
    }

    /// A quarantined object the store lacks and some root needs.
    public struct Need: Sendable {
        public var object: QuarantinedObject
        /// A commit and path to fetch it by (nil: a kept local version's content, which no source has).
        public var location: (commit: ObjectID, path: TreePath)?
        /// For a commit or tree object: the root commit whose listing brings it back.
        public var listingOf: ObjectID?
        /// Targets whose last sync put this blob there: their files may hardlink the damaged copy (`verify --repair`
        /// replaces them).
        public var targets: Set<String> = []
    }

    /// What the repair did.
    public struct Outcome: Sendable {
        /// Put back from an intact quarantined copy.
        public var restoredLocally: [ObjectID] = []
        /// Fetched again from the source.
        public var fetched: [ObjectID] = []
        /// Still missing, with why.
        public var unrepaired: [(id: ObjectID, reason: String)] = []

        public init() {}
    }

    /// The quarantined objects that are absent from `objects/` and needed by a root.
    public func needs() throws -> [Need] {
        var absent: [ObjectID: QuarantinedObject] = [:]
        for q in store.quarantinedObjects() where !q.path.hasSuffix(".x") && !FileSystem.exists(store.path(for: q.id)) {
            absent[q.id] = q
        }
        guard !absent.isEmpty else { return [] }
        var found: [ObjectID: Need] = [:]
        var commits = Set<ObjectID>()
        try roots.forEach { root in
            if let commit = root.commit { commits.insert(commit) }
            for blob in root.blobs {
                guard let q = absent[blob.id] else { continue }
                if found[blob.id]?.location == nil {
                    let targets = found[blob.id]?.targets ?? []
                    found[blob.id] = Need(
                        object: q, location: root.commit.map { ($0, blob.path) }, listingOf: nil, targets: targets)
                }
                if root.kind == .target, let target = root.target { found[blob.id]?.targets.insert(target) }
            }
        }
        // Commit and tree objects: those of a root commit, found by walking its stored trees (a quarantined tree is
        // where the walk stops).
        for commit in commits {
            if let q = absent[commit] {
                found[commit] = Need(object: q, location: nil, listingOf: commit)
                continue
            }
            guard let body = try? store.read(commit), let parsed = CommitObject.parse(body) else { continue }
            var trees = [parsed.tree]
            var seen = Set<ObjectID>()
            while let tree = trees.popLast() {
                guard seen.insert(tree).inserted else { continue }
                if let q = absent[tree] {
                    found[tree] = found[tree] ?? Need(object: q, location: nil, listingOf: commit)
                    continue
                }
                guard let body = try? store.read(tree), let children = TreeObject.decode(body) else { continue }
                trees += children.filter { $0.mode == .tree }.map(\.id)
            }
        }
        return found.values.sorted { $0.object.id < $1.object.id }
    }

    /// Brings back what `needs` names: intact quarantined copies first, then through `source` (nil: no fetching).
    public func repair(_ needs: [Need], source: (any SyncSource)?) async -> Outcome {
        var outcome = Outcome()
        var remaining: [Need] = []
        for need in needs {
            if (try? store.restoreFromQuarantine(need.object)) == true {
                outcome.restoredLocally.append(need.object.id)
            } else {
                remaining.append(need)
            }
        }
        guard let source else {
            outcome.unrepaired += remaining.map { ($0.object.id, "no source to fetch it from "
                + "(give OWNER/REPO or --source)") }
            return outcome
        }
        var byCommit: [ObjectID: [BlobWant]] = [:]
        var listings = Set<ObjectID>()
        for need in remaining {
            if let (commit, path) = need.location {
                byCommit[commit, default: []].append(BlobWant(id: need.object.id, path: path, size: nil))
            } else if let commit = need.listingOf {
                listings.insert(commit)
            }
        }
        var failures: [ObjectID: String] = [:]
        for (commit, wants) in byCommit.sorted(by: { $0.key < $1.key }) {
            do {
                _ = try await source.fetch(
                    wants, of: ResolvedRef(name: commit.hex, commit: commit), into: store, progress: .none)
            } catch {
                for want in wants { failures[want.id] = "fetching it from "
                    + "\(source.displayName) failed: \(Self.text(error))" }
            }
        }
        for commit in listings.sorted() {
            // A listing the pack transport has to fetch stores the commit and its trees again.
            do {
                _ = try await source.listing(
                    for: ResolvedRef(name: commit.hex, commit: commit), hints: ListingHints(withBlobs: false))
            } catch {
                failures[commit] = "listing commit \(commit.abbreviated()) from "
                    + "\(source.displayName) failed: \(Self.text(error))"
            }
        }
        for need in remaining {
            let id = need.object.id
            if FileSystem.exists(store.path(for: id)) {
                outcome.fetched.append(id)
            } else if need.location == nil && need.listingOf == nil {
                outcome.unrepaired.append((id, "it is a kept local version: its only copy was the damaged one"))
            } else {
                outcome.unrepaired.append(
                    (id, failures[id] ?? "\(source.displayName) did not bring it back (it stores no tree objects)"))
            }
        }
        return outcome
    }

    private static func text(_ error: any Error) -> String {
        (error as? SmartSyncError)?.text ?? "\(error)"
    }
}
