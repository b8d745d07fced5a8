import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncObjectStore
import TestSupport
import Testing

/// ``PackLimits``: a pack is held to what it was asked for. What it may not hold is refused before it reaches the
/// store (objects asked for and complete stay), with a message naming the limit.
@Suite struct PackLimitsTests {
    let scratch: TemporaryDirectory

    init() throws { scratch = try TemporaryDirectory(prefix: "gitpack-limits") }

    /// Imports `entries` as one pack into a fresh store; returns the store and the error, if any.
    func importing(
        _ entries: [[UInt8]], limits: PackLimits, budget: ByteBudget? = nil, name: String = #function
    ) throws -> (ObjectStore, SmartSyncError?) {
        let key = name.filter { $0.isLetter }
        let path = scratch.appending(key + ".pack")
        try PackBuilder.write(PackBuilder.pack(entries), to: path)
        let store = try ObjectStore(root: scratch.appending("store-" + key))
        do {
            try PackImporter(store: store).importPack(atPath: path, limits: limits, budget: budget)
            return (store, nil)
        } catch let error as SmartSyncError {
            return (store, error)
        }
    }

    static let a = Array("alpha\n".utf8)
    static let b = Array("bravo\n".utf8)
    static let c = Array("charlie\n".utf8)
    static func blob(_ bytes: [UInt8]) -> [UInt8] { PackBuilder.entry(type: 3, bytes) }

    @Test func aCountOverTheLimitIsRefusedBeforeAnyObject() throws {
        let (store, error) = try importing(
            [Self.blob(Self.a), Self.blob(Self.b), Self.blob(Self.c)],
            limits: PackLimits(maxObjects: 2, asked: "the 2 blobs asked for"))
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("declares 3 objects, more than the 2 that the 2 blobs asked for") == true)
        #expect(error?.message.contains("Nothing was stored") == true, "\(error?.message ?? "")")
        #expect(!store.contains(ObjectID.blob(Self.a)))
    }

    @Test func blobsAtOrOverTheFilterLimitAreRefused() throws {
        let small = [UInt8](repeating: 1, count: 99)
        let large = [UInt8](repeating: 2, count: 100)
        let (store, error) = try importing(
            [Self.blob(small), Self.blob(large)], limits: PackLimits(blobSizeLimit: 100))
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("a blob of 100 bytes") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("filter blob:limit=100") == true)
        #expect(store.contains(ObjectID.blob(small)))
        #expect(!store.contains(ObjectID.blob(large)))

        // blob:none: not even an empty blob; trees are not blobs.
        let tree = TreeObject.encode([TreeObject.Child(name: Array("e".utf8), mode: .regular, id: .blob([]))])
        let (none, refused) = try importing(
            [PackBuilder.entry(type: 2, tree), Self.blob([])], limits: PackLimits(blobSizeLimit: 0),
            name: "blobNone")
        #expect(refused?.message.contains("without blobs (filter blob:none)") == true)
        #expect(none.contains(ObjectID.hash(.tree, tree)))
    }

    @Test func aDeltaResultOverTheFilterLimitIsRefusedBeforeItIsWritten() throws {
        let base = [UInt8](repeating: 0x41, count: 50)
        let delta = PackBuilder.varint(50) + PackBuilder.varint(200) + [0x90, 50, 0x90, 50, 0x90, 50, 0x90, 50]
        let b = Self.blob(base)
        let (store, error) = try importing(
            [b, PackBuilder.entry(type: 6, delta, distance: b.count)], limits: PackLimits(blobSizeLimit: 100))
        #expect(error?.message.contains("a blob of 200 bytes") == true, "\(error?.message ?? "")")
        #expect(store.contains(ObjectID.blob(base)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
    }

    @Test func onlyTheObjectsAskedForAreStored() throws {
        let wanted: Set<ObjectID> = [.blob(Self.a), .blob(Self.c)]
        let (store, error) = try importing(
            [Self.blob(Self.a), Self.blob(Self.b), Self.blob(Self.c)], limits: PackLimits(contents: .only(wanted)))
        #expect(error?.code == .malformedResponse)
        let message = error?.message ?? ""
        #expect(message.contains("blob \(ObjectID.blob(Self.b))") && message.contains("not one of the 2"), "\(message)")
        #expect(store.contains(ObjectID.blob(Self.a)), "a wanted object that arrived whole is kept")
        #expect(!store.contains(ObjectID.blob(Self.b)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
    }

    /// A commit's pack holds the commit, its trees and their blobs; anything else is dropped before it is published.
    @Test func whatTheCommitDoesNotReachIsRefused() throws {
        let sub = TreeObject.encode([TreeObject.Child(name: Array("b".utf8), mode: .regular, id: .blob(Self.b))])
        let root = TreeObject.encode([
            TreeObject.Child(name: Array("a".utf8), mode: .regular, id: .blob(Self.a)),
            TreeObject.Child(name: Array("d".utf8), mode: .tree, id: ObjectID.hash(.tree, sub)),
        ])
        let parent = Array("tree \(ObjectID.hash(.tree, root).hex)\n\nparent\n".utf8)
        let parentID = ObjectID.hash(.commit, parent)
        let commit = Array("tree \(ObjectID.hash(.tree, root).hex)\nparent \(parentID.hex)\n\nchild\n".utf8)
        let commitID = ObjectID.hash(.commit, commit)
        let entries = [
            PackBuilder.entry(type: 1, commit), PackBuilder.entry(type: 1, parent), PackBuilder.entry(type: 2, root),
            PackBuilder.entry(type: 2, sub), Self.blob(Self.a), Self.blob(Self.b), Self.blob(Self.c),
        ]
        let depthOne = PackLimits(contents: .reachable(from: [commitID], history: false))
        let (store, error) = try importing(entries, limits: depthOne)
        #expect(error?.code == .malformedResponse)
        let message = error?.message ?? ""
        #expect(message.contains("2 objects that commit \(commitID) does not reach"), "\(message)")
        for id in [commitID, ObjectID.hash(.tree, root), ObjectID.hash(.tree, sub), .blob(Self.a), .blob(Self.b)] {
            #expect(store.contains(id), "\(id) is reached and was not kept")
        }
        #expect(!store.contains(parentID), "a parent at depth 1")
        #expect(!store.contains(ObjectID.blob(Self.c)))

        // With history, the parent the pack brings belongs; the stray blob still does not.
        let (withHistory, strays) = try importing(
            entries, limits: PackLimits(contents: .reachable(from: [commitID], history: true)), name: "history")
        #expect(strays?.message.contains("1 object that") == true, "\(strays?.message ?? "")")
        #expect(withHistory.contains(parentID))
        #expect(!withHistory.contains(ObjectID.blob(Self.c)))
    }

    @Test func objectsPastThePacksSizeAreRefused() throws {
        let (store, error) = try importing(
            [Self.blob(Self.a), Self.blob(Self.c)],
            limits: PackLimits(maxObjectBytes: Self.a.count + 1, asked: "the blob asked for"))
        #expect(error?.code == .malformedResponse)
        #expect(error?.message.contains("more than the 7 bytes (7 bytes) that the blob asked for can take") == true)
        #expect(store.contains(ObjectID.blob(Self.a)))
        #expect(!store.contains(ObjectID.blob(Self.c)))
    }

    /// The delta bomb of ``HostilePackTests`` (80 KB of pack, 300 MiB of result) against a run that may store 1 MiB:
    /// refused from the declared size, before a byte of the result is written.
    @Test func aDeltaBombIsRefusedByTheRunsBudget() throws {
        let base = [UInt8](repeating: 0x41, count: 65535)
        var delta = PackBuilder.varint(65535) + PackBuilder.varint(65535 * 4800)
        for _ in 0..<4800 { delta += [0xB0, 0xFF, 0xFF] }
        let b = Self.blob(base)
        let budget = ByteBudget(limit: 1 << 20)
        let (store, error) = try importing(
            [b, PackBuilder.entry(type: 6, delta, distance: b.count)], limits: PackLimits(), budget: budget)
        #expect(error?.code == .limitExceeded)
        let message = error?.message ?? ""
        #expect(message.contains("past the 1 MiB (1048576 bytes) it may add to the store"), "\(message)")
        #expect(message.contains("--max-download"), "\(message)")
        #expect(budget.used == 65535)
        #expect(store.contains(ObjectID.blob(base)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory).isEmpty)
    }

    @Test func filtersGiveBlobLimits() throws {
        #expect(PackLimits.blobSizeLimit(filter: "blob:none") == 0)
        #expect(PackLimits.blobSizeLimit(filter: "blob:limit=1048576") == 1 << 20)
        #expect(PackLimits.blobSizeLimit(filter: "blob:limit=64k") == 64 << 10)
        #expect(PackLimits.blobSizeLimit(filter: "blob:limit=2M") == 2 << 20)
        #expect(PackLimits.blobSizeLimit(filter: "tree:0") == nil)
        #expect(PackLimits.blobSizeLimit(filter: nil) == nil)
        #expect(PackLimits.blobSizeLimit(filter: "blob:limit=-1") == nil)
        let limits = PackLimits(
            maxObjects: 3, maxObjectBytes: 10, blobSizeLimit: 5, contents: .only([.blob(Self.a)]), asked: "x")
        #expect(try JSONDecoder().decode(PackLimits.self, from: JSONEncoder().encode(limits)) == limits)
    }
}
