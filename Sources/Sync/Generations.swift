import GitObjects
import ObjectStore
import SmartSyncCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A previous tree of a target, kept for rollback.
public struct Generation: Sendable {
    /// Increases with each switch; the largest is the most recent.
    public var sequence: Int
    /// The commit and manifest it held; nil for the tree smart-sync found before its first switch.
    public var state: TargetState?
    /// The kept tree.
    public var tree: String
}

/// The generations kept in a target's sidecar (see ``SwitchLayout``).
public struct GenerationStore: Sendable {
    public let layout: SwitchLayout

    public init(layout: SwitchLayout) { self.layout = layout }

    /// All kept generations, the most recent first. Incomplete ones (no `tree`) are skipped.
    public func list() throws -> [Generation] {
        guard TreeOps.isDirectory(layout.generations) else { return [] }
        var result: [Generation] = []
        for name in try FileSystem.names(in: layout.generations) {
            guard let seq = Int(name) else { continue }
            let dir = layout.generation(seq)
            guard TreeOps.isDirectory(dir + "/tree") else { continue }
            let state = try FileSystem.readFileIfPresent(dir + "/state").flatMap { TargetState(encoded: $0.bytes) }
            result.append(Generation(sequence: seq, state: state, tree: dir + "/tree"))
        }
        return result.sorted { $0.sequence > $1.sequence }
    }

    /// The generation the next switch would prune, when there is one: the oldest, once `keep` are kept (a staged switch
    /// makes it its stage instead of building one; see ``StageRecycler``). Nil when fewer are kept, or none is wanted.
    func recyclable(keep: Int) throws -> Generation? {
        guard keep > 0 else { return nil }
        let kept = try list()
        return kept.count >= keep ? kept.last : nil
    }

    /// Moves `path` (a tree given up on) among the generations being removed, for ``prune(keep:)`` to remove.
    func discard(_ path: String) throws {
        try FileSystem.makeDirectories(layout.generations)
        let trash = layout.generations + "/" + Self.removing + "discarded-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        guard rename(path, trash) == 0 else { throw SmartSyncError.io("rename", path: path) }
    }

    /// One more than the largest sequence in use.
    func nextSequence() throws -> Int {
        guard TreeOps.isDirectory(layout.generations) else { return 1 }
        return (try FileSystem.names(in: layout.generations).compactMap(Int.init).max() ?? 0) + 1
    }

    /// Creates generation `seq`'s directory with its state (written before its tree arrives, so a crash
    /// between the two leaves a complete record once the tree is moved in). Returns where the tree goes.
    func prepare(_ seq: Int, state: TargetState?) throws -> String {
        let dir = layout.generation(seq)
        try FileSystem.makeDirectories(dir)
        if let state { try FileSystem.writeFileAtomically(dir + "/state", state.encoded()) }
        return dir + "/tree"
    }

    /// Removes the generation directory `seq` entirely.
    func remove(_ seq: Int) throws {
        try TreeOps.removeTree(layout.generation(seq))
    }

    /// Keeps the `keep` most recent generations and removes the rest (and any incomplete leftovers).
    ///
    /// Each goes in one rename first (to `.removing-<seq>-<random>`, which ``list()`` ignores), so one that cannot be
    /// removed wholly is never listed half removed (say, without its `state`, as the tree found before the first sync).
    /// Every removal is tried; the first failure is thrown.
    func prune(keep: Int) throws {
        guard TreeOps.isDirectory(layout.generations) else { return }
        let complete = Set(try list().prefix(max(0, keep)).map(\.sequence))
        var failure: (any Error)?
        for name in try FileSystem.names(in: layout.generations) {
            guard let seq = Int(name), !complete.contains(seq) else { continue }
            let from = layout.generation(seq)
            let trash = Self.removing + name + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
            if rename(from, layout.generations + "/" + trash) != 0 {
                failure = failure ?? SmartSyncError.io("rename", path: from)
            }
        }
        for name in try FileSystem.names(in: layout.generations) where name.hasPrefix(Self.removing) {
            do {
                try TreeOps.removeTree(layout.generations + "/" + name)
            } catch {
                failure = failure ?? error
            }
        }
        FileSystem.syncDirectory(layout.generations)
        if let failure { throw failure }
    }

    /// The name prefix of a generation being removed.
    static let removing = ".removing-"
}
