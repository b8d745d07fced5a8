import FoundationEssentials
import SmartSyncGitObjects
import SmartSyncObjectStore

/// What a source told `warm --pin` about two commits: whether `ancestor` is `descendant` or one of its ancestors
/// (``SyncSource/isAncestor(_:of:)``). Commit ids name their history for good, so an answer never goes stale.
public struct AncestryFact: Sendable, Hashable, Codable {
    public var ancestor: ObjectID
    public var descendant: ObjectID
    /// The answer: true when `ancestor` is `descendant` or one of its ancestors.
    public var holds: Bool

    public init(ancestor: ObjectID, descendant: ObjectID, holds: Bool) {
        self.ancestor = ancestor
        self.descendant = descendant
        self.holds = holds
    }
}

/// One pinned commit as ``PinIndex`` knows it: enough to resolve it and run the commit checks on it without reading
/// its listing, and which pin files hold that listing.
public struct PinnedCommit: Sendable, Hashable {
    public var commit: ObjectID
    public var rootTree: ObjectID
    /// The names that pin it, sorted.
    public var names: [String]
    /// The pin files (`<store>/pins/<file>`) that hold its listing, in the order of ``names``.
    public var files: [String]
    /// The commit's own object (git's bytes without the `commit <size>\0` header), when `warm --pin` could get it:
    /// it hashes to ``commit`` and its tree line is ``rootTree`` (entries that fail this are dropped when read).
    public var commitObject: [UInt8]?
    /// What `warm --pin` learned about how this commit stands to other pins' and targets' commits.
    public var ancestry: [AncestryFact]
}

/// `<store>/pins/index`: the pinned commits by id, and the pin files they were read from (each with its inode, so
/// a pin file replaced behind the index's back is noticed from the directory alone). A sync reads this one small
/// file and the directory's names, never a listing it does not use. A small record (``Record``).
public struct PinIndex: Sendable {
    /// One pin file: its inode, and the name and commit it pins (nil: damaged, keeps nothing).
    struct File: Sendable, Hashable {
        struct Held: Sendable, Hashable {
            var name: String
            var commit: ObjectID
        }

        var inode: UInt64
        var pin: Held?
    }

    /// The pin files by name.
    var files: [String: File] = [:]
    /// The pinned commits by id.
    public private(set) var commits: [ObjectID: PinnedCommit] = [:]
    /// `x → [y]`: x is y or one of its ancestors, from true facts and the commit objects' parents.
    private var below: [ObjectID: Set<ObjectID>] = [:]
    /// The facts that do not hold.
    private var negatives: [AncestryFact] = []

    public init() {}

    /// The pin of `commit`, if any name pins it.
    public func pinned(_ commit: ObjectID) -> PinnedCommit? { commits[commit] }

    /// True when no commit is pinned.
    public var isEmpty: Bool { commits.isEmpty }

    /// The body of `commit`'s object, when a pin holds it (verified when the index was read).
    public func commitObject(_ commit: ObjectID) -> [UInt8]? { commits[commit]?.commitObject }

    /// Whether `ancestor` is `descendant` or one of its ancestors, from what the pins know; nil when they cannot
    /// tell. Yes: a chain of facts that hold and commit parents leads from `ancestor` to `descendant`. No: one leads
    /// the other way (history has no cycles), or a fact that does not hold is implied (x is not an ancestor of y,
    /// x is `ancestor` or below it, y is `descendant` or above it).
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) -> Bool? {
        if ancestor == descendant { return true }
        if reaches(ancestor, descendant) { return true }
        if reaches(descendant, ancestor) { return false }
        for fact in negatives where reaches(fact.ancestor, ancestor) && reaches(descendant, fact.descendant) {
            return false
        }
        return nil
    }

    private func reaches(_ from: ObjectID, _ to: ObjectID) -> Bool {
        if from == to { return true }
        var queue = [from]
        var seen: Set<ObjectID> = [from]
        while let id = queue.popLast() {
            for next in below[id] ?? [] where seen.insert(next).inserted {
                if next == to { return true }
                queue.append(next)
            }
        }
        return false
    }

    // MARK: - Building

    /// The commits' entries from `files`, keeping what `previous` knew of each commit still pinned; `decode` reads a
    /// pin file that `previous` did not record with the same inode.
    static func rebuild(
        files scanned: [String: UInt64], previous: PinIndex?, decode: (String) -> Pin?
    ) -> PinIndex {
        var index = PinIndex()
        var roots: [ObjectID: ObjectID] = [:]
        for (name, inode) in scanned.sorted(by: { $0.key < $1.key }) {
            if let previous, let known = previous.current(name, inode: inode) {
                index.files[name] = known
                if let pin = known.pin, let root = previous.commits[pin.commit]?.rootTree {
                    roots[pin.commit] = roots[pin.commit] ?? root
                }
                continue
            }
            let pin = decode(name)
            index.files[name] = File(inode: inode, pin: pin.map { File.Held(name: $0.name, commit: $0.commit) })
            if let pin { roots[pin.commit] = roots[pin.commit] ?? pin.listing.rootTree }
        }
        for (commit, root) in roots {
            let old = previous?.commits[commit]
            index.commits[commit] = PinnedCommit(
                commit: commit, rootTree: root, names: [], files: [],
                commitObject: old?.rootTree == root ? old?.commitObject : nil,
                ancestry: old?.rootTree == root ? old?.ancestry ?? [] : [])
        }
        index.linkFiles()
        return index
    }

    /// The most facts kept per pinned commit (the newest): a pin warmed again and again as targets move on learns
    /// about each of their commits.
    static let maxFacts = 256

    /// Adds what `warm --pin` learned about `commit` (a pinned commit): its object, and facts (merged with those
    /// known, a new answer replacing an old one of the same pair).
    mutating func learn(_ commit: ObjectID, commitObject: [UInt8]?, ancestry: [AncestryFact]) {
        guard var entry = commits[commit] else { return }
        if let commitObject, Self.checked(commitObject, commit: commit, rootTree: entry.rootTree) {
            entry.commitObject = commitObject
        }
        let pairs = Set(ancestry.map { [$0.ancestor, $0.descendant] })
        entry.ancestry = entry.ancestry.filter { !pairs.contains([$0.ancestor, $0.descendant]) } + ancestry
        entry.ancestry.removeFirst(max(0, entry.ancestry.count - Self.maxFacts))
        commits[commit] = entry
        derive()
    }

    /// Fills each commit's names and files from ``files``, drops commits no file pins, and derives the relation.
    private mutating func linkFiles() {
        var byCommit: [ObjectID: [(name: String, file: String)]] = [:]
        for (file, record) in files {
            if let pin = record.pin { byCommit[pin.commit, default: []].append((pin.name, file)) }
        }
        for commit in Array(commits.keys) {
            guard let pins = byCommit[commit]?.sorted(by: { $0.name < $1.name }) else {
                commits[commit] = nil
                continue
            }
            commits[commit]?.names = pins.map(\.name)
            commits[commit]?.files = pins.map(\.file)
        }
        derive()
    }

    private mutating func derive() {
        below = [:]
        negatives = []
        for entry in commits.values {
            for fact in entry.ancestry {
                if fact.holds {
                    below[fact.ancestor, default: []].insert(fact.descendant)
                } else {
                    negatives.append(fact)
                }
            }
            if let body = entry.commitObject, let parsed = CommitObject.parse(body) {
                for parent in parsed.parents { below[parent, default: []].insert(entry.commit) }
            }
        }
    }

    /// True when `body` is `commit`'s object and its tree is `rootTree`.
    static func checked(_ body: [UInt8], commit: ObjectID, rootTree: ObjectID) -> Bool {
        ObjectID.hash(.commit, body) == commit && CommitObject.parse(body)?.tree == rootTree
    }

    /// True when the index was built from exactly these pin files (names and inodes) and has an entry for each
    /// commit they pin (one dropped when read is brought back from its pin file by a rebuild).
    func matches(_ scanned: [String: UInt64]) -> Bool {
        files.count == scanned.count && scanned.allSatisfy { current($0.key, inode: $0.value) != nil }
    }

    /// The pin file `name` as the index knows it, when that is still the file the directory holds (the same inode) and
    /// the index has an entry for the commit it pins; nil when the file must be read again.
    private func current(_ name: String, inode: UInt64) -> File? {
        guard let known = files[name], known.inode == inode, known.pin.map({ commits[$0.commit] != nil }) ?? true else {
            return nil
        }
        return known
    }

    // MARK: - The file

    /// `pins/index` as written: a ``JSONRecord`` (format `smart-sync-pin-index`, version 1), so an operator reads
    /// what a pin knows with `jq`; commit objects base64.
    struct Record: JSONRecord {
        static let format = "smart-sync-pin-index"
        static let version = 1

        struct FileEntry: Codable, Sendable {
            var file: String
            var inode: UInt64
            /// The name and commit of the pin it holds; both absent for a damaged file.
            var name: String?
            var commit: ObjectID?
        }

        struct CommitEntry: Codable, Sendable {
            var commit: ObjectID
            var rootTree: ObjectID
            var commitObject: Data?
            var ancestry: [AncestryFact]
        }

        var files: [FileEntry]
        var commits: [CommitEntry]
    }

    /// The index as its file holds it (files and commits sorted, so the same index gives the same bytes).
    var record: Record {
        Record(
            files: files.sorted { $0.key < $1.key }.map {
                Record.FileEntry(
                    file: $0.key, inode: $0.value.inode, name: $0.value.pin?.name, commit: $0.value.pin?.commit)
            },
            commits: commits.values.sorted { $0.commit < $1.commit }.map { entry in
                Record.CommitEntry(
                    commit: entry.commit, rootTree: entry.rootTree, commitObject: entry.commitObject.map { Data($0) },
                    ancestry: entry.ancestry)
            })
    }

    /// The index a file held. An entry whose commit object does not hash to its id or names another tree is dropped
    /// (its commit reads as not pinned until the index is rebuilt from the pin files, which ``matches(_:)`` asks for).
    init(_ record: Record) {
        for entry in record.files {
            let pin = entry.name.flatMap { name in entry.commit.map { File.Held(name: name, commit: $0) } }
            files[entry.file] = File(inode: entry.inode, pin: pin)
        }
        for entry in record.commits {
            let body = entry.commitObject.map { [UInt8]($0) }
            if let body, !Self.checked(body, commit: entry.commit, rootTree: entry.rootTree) { continue }
            commits[entry.commit] = PinnedCommit(
                commit: entry.commit, rootTree: entry.rootTree, names: [], files: [], commitObject: body,
                ancestry: entry.ancestry)
        }
        linkFiles()
    }
}
