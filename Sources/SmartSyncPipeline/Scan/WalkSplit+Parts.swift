import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// The pieces a split walk is made of: the table's slots, the listed directories, the subtrees, the parts.
extension ScanWalker {
    /// A range of the split walk's table (`table[start..<start + capacity]`), written in place by one walker: its
    /// first `count` entries are initialized.
    ///
    /// Its safety contract (why the unchecked `Sendable` holds): the parts' slots are disjoint and each is written
    /// by one worker only, and read by the join only after every worker is done
    /// (``ParallelWork/map(count:workers:order:_:)``); the join takes the parts in strictly increasing slot order and
    /// writes below ``end`` of the part it has just taken (``ScanWalker/fits(_:starts:own:capacity:)``, checked in
    /// ``ScanWalker/append(_:)``), so it never writes over a part not yet joined.
    struct Slot: @unchecked Sendable {
        let table: UnsafeMutablePointer<LocalEntry>
        let start: Int
        let capacity: Int
        var count = 0

        /// Where its entries lie in the table.
        var region: Range<Int> { start..<(start + count) }
        /// Where the next slot starts (the table's end after the last).
        var end: Int { start + capacity }
    }

    /// A directory the split listed, its descriptor open until the walk is done.
    struct Listed {
        let fd: Int32
        let prefix: TreePath
        let listing: SortedDirectory
        /// Its own entries (not its subdirectories' contents), recorded in path order on a worker; nil for the root,
        /// recorded as it is put together. A failure while recording stops the part, after its entries.
        var recorded: Part?
        var recordFailure: (any Error)?
        /// What became of each subdirectory, by child index (nil: not a subdirectory, or not looked at); empty until
        /// the first is set. An array, not a dictionary keyed by index: no hashing, and no dictionary type made at the
        /// first split (its metadata, looked up through the runtime's conformance tables, was in the no-op's profile).
        private(set) var descents: [Descent?] = []

        /// Records what became of the subdirectory at child index `child`.
        mutating func setDescent(_ descent: Descent, of child: Int) {
            if descents.isEmpty { descents = Array(repeating: nil, count: listing.children.count) }
            descents[child] = descent
        }

        /// What became of the child at index `child` (nil: not a subdirectory, or gone unlooked at).
        func descent(of child: Int) -> Descent? { child < descents.count ? descents[child] : nil }

        /// Its subdirectories, in path order; it is `listed[parent]`.
        func subdirectories(parent: Int) -> [Subtree] {
            return listing.steps.filter(\.descends).map { step in
                let name = listing.name(step.index)
                return Subtree(parent: parent, child: step.index, parentFD: fd, name: name, path: prefix.appending(name))
            }
        }
    }

    /// A subdirectory found by the split: listed in turn, or walked whole by a worker.
    struct Subtree: Sendable {
        /// Its parent, `listed[parent]`, and its index among the parent's children.
        let parent: Int
        let child: Int
        let parentFD: Int32
        let name: TreePath
        let path: TreePath
    }

    /// What became of a subdirectory of a listed directory.
    enum Descent {
        /// Listed by the split (an index into its listed directories).
        case listed(Int)
        /// Walked whole by a worker (an index into the parts).
        case subtree(Int)
        /// Gone before it was opened.
        case gone
        /// Could not be opened or listed.
        case failed(any Error)
    }

    /// What a worker found in one subtree, or in one listed directory's own entries, to be put in its place.
    struct Part: Sendable {
        /// Its first entries, where its walker wrote them in the table (a subtree's ``Slot``; empty for a listed
        /// directory's own entries).
        var region: Range<Int>
        /// Its (other) entries, after those of ``region``.
        var entries: [LocalEntry]
        /// Its slot's ``Slot/end``: joined in place, it and its overflow end there at the latest.
        var end: Int
        /// Indices into its entries (``region``'s, then ``entries``), increasing.
        var pending: [Int]
        var excluded: Set<TreePath>
        var stats: ScanStatistics
        /// Where its cache cursor stopped.
        var cacheEnd: Int
        /// Its last path's bytes, and whether its entries are in path order (``ScanWalker/inOrder``).
        var previous: [UInt8]
        var inOrder: Bool
    }
}
