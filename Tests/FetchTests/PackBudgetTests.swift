import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncGitProtocol
import Testing

@testable import SmartSyncFetch

/// What a pack request may bring, from what it asks for.
struct PackBudgetTests {
    static let a = ObjectID.blob(Array("a".utf8))
    static let b = ObjectID.blob(Array("b".utf8))

    @Test func aBlobPackOfKnownSizesIsHeldToThem() {
        let budget = PackBudget.blobs([
            BlobWant(id: Self.a, path: "a", size: 1000), BlobWant(id: Self.b, path: "b", size: 3000),
            BlobWant(id: Self.a, path: "copy-of-a", size: 1000),
        ])
        #expect(budget.limits.maxObjects == 2, "each blob once")
        #expect(budget.limits.contents == .only([Self.a, Self.b]))
        #expect(budget.limits.maxObjectBytes == 4000)
        #expect(budget.limits.blobSizeLimit == nil)
        // 4,000 bytes, a quarter more, 1 KiB for each of the 2 objects, 256 KiB.
        #expect(budget.response?.bytes == 4000 + 1000 + 2048 + 262_144)
        #expect(budget.response?.reason.hasPrefix("the 2 blobs asked for (4000 bytes by the listing") == true)
    }

    @Test func aBlobPackWithAnUnknownSizeIsHeldToItsCountAndContentsOnly() {
        let budget = PackBudget.blobs([
            BlobWant(id: Self.a, path: "a", size: 1000), BlobWant(id: Self.b, path: "b", size: nil),
        ])
        #expect(budget.limits.maxObjects == 2)
        #expect(budget.limits.contents == .only([Self.a, Self.b]))
        #expect(budget.limits.maxObjectBytes == nil)
        #expect(budget.response == nil, "only --max-download bounds its bytes")
    }

    @Test func hugeListedSizesSaturateInsteadOfOverflowing() {
        let budget = PackBudget.blobs([
            BlobWant(id: Self.a, path: "a", size: Int.max - 10), BlobWant(id: Self.b, path: "b", size: Int.max - 10),
        ])
        #expect(budget.limits.maxObjectBytes == Int.max)
        #expect(budget.response?.bytes == Int.max)
        #expect(PackBudget.overhead(bytes: Int.max, objects: Int.max) == Int.max)
    }

    @Test func aCommitPackIsHeldToItsFilterAndClosure() {
        let commit = ObjectID.blob(Array("commit".utf8))
        let cold = PackBudget.commit(commit, filter: "blob:limit=1048576", history: false, closure: nil)
        #expect(cold.limits.maxObjects == PackLimits.defaultMaxObjects)
        #expect(cold.limits.blobSizeLimit == 1 << 20)
        #expect(cold.limits.contents == .reachable(from: [commit], history: false))
        #expect(cold.response == nil)
        #expect(cold.limits.asked.contains("the limit for a pack of unknown size"))

        let afterPlan = PackBudget.commit(commit, filter: "blob:limit=1048576", history: false, closure: 42)
        #expect(afterPlan.limits.maxObjects == 42)
        #expect(afterPlan.limits.asked == "commit \(commit.abbreviated()) with its 41 trees and blobs")

        let plan = PackBudget.commit(commit, filter: "blob:none", history: false, closure: nil)
        #expect(plan.limits.blobSizeLimit == 0)

        // Without `deepen` the server sends history: the closure of one commit is no bound.
        let whole = PackBudget.commit(commit, filter: nil, history: true, closure: 42)
        #expect(whole.limits.maxObjects == PackLimits.defaultMaxObjects)
        #expect(whole.limits.contents == .reachable(from: [commit], history: true))
        #expect(whole.limits.blobSizeLimit == nil)
    }

    @Test func theClosureCountsDistinctObjectsButNotGitlinks() {
        let tree = ObjectID.hash(.tree, [])
        let listing = TreeListing(
            commit: Self.b, rootTree: tree,
            entries: [
                TreeEntry(path: "d", mode: .tree, id: tree), TreeEntry(path: "d/a", mode: .regular, id: Self.a),
                TreeEntry(path: "a", mode: .regular, id: Self.a), TreeEntry(path: "sub", mode: .gitlink, id: Self.b),
            ])
        // `d` and the root tree are one object here, `a` twice is one: {tree, a} plus the root and the commit.
        #expect(PackBudget.closureSize(listing: listing) == 4)
        #expect(PackBudget.closureSize(listing: nil) == nil)
    }
}
