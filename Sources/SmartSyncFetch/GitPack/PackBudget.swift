import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncGitProtocol

/// What one pack request may bring, derived from what it asks for: the importer's ``PackLimits`` and, when the
/// sizes of what was asked are known, the most response bytes.
///
/// - A pack of `want <blob>` lines brings exactly those blobs (a thin pack's delta bases are objects the client
///   has, never sent), so its count is the number of wants and anything else is refused as it arrives. When the
///   listing gave every blob's size, the objects may take exactly those sizes in the store, and the response their
///   sum plus ``overhead(bytes:objects:)``.
/// - A commit's pack brings the commit and what its trees reach, under the request's filter: no blob of the
///   filter's limit or more, nothing the commit does not reach (checked when the pack ends, before anything is
///   published). Its size is not known before it arrives, so only the run's `--max-download` bounds its bytes; its
///   count is the closure's when the trees are already in the store (after a `plan`), else
///   ``PackLimits/defaultMaxObjects``.
struct PackBudget: Sendable, Equatable {
    var limits: PackLimits
    /// The most response bytes, when the request's sizes are known; nil: only `--max-download`.
    var response: ResponseLimit?

    /// A pack of exactly `wants` (blobs).
    static func blobs(_ wants: [BlobWant]) -> PackBudget {
        let ids = Set(wants.map(\.id))
        let asked = "the \(ids.count) blob\(ids.count == 1 ? "" : "s") asked for"
        var budget = PackBudget(limits: PackLimits(maxObjects: ids.count, contents: .only(ids), asked: asked))
        var sizes: [ObjectID: Int] = [:]
        for want in wants {
            guard let size = want.size, size >= 0 else { return budget }
            sizes[want.id] = size
        }
        let total = sizes.values.reduce(0) { saturatingSum($0, $1) }
        budget.limits.maxObjectBytes = total
        budget.response = ResponseLimit(
            bytes: saturatingSum(total, overhead(bytes: total, objects: ids.count)),
            reason: "\(asked) (\(total) bytes by the listing, with room for the pack's own overhead)")
        return budget
    }

    /// The pack of `commit` (with its trees and the blobs `filter` lets through); `history` when the request does not
    /// cut it at depth 1. `closure`: the number of objects the commit reaches, when its trees are known.
    static func commit(_ commit: ObjectID, filter: String?, history: Bool, closure: Int?) -> PackBudget {
        let known = history ? nil : closure
        let asked =
            known.map { "commit \(commit.abbreviated()) with its \($0 - 1) trees and blobs" }
            ?? "commit \(commit.abbreviated()) with its trees and blobs (the limit for a pack of unknown size)"
        return PackBudget(
            limits: PackLimits(
                maxObjects: known ?? PackLimits.defaultMaxObjects,
                blobSizeLimit: PackLimits.blobSizeLimit(filter: filter),
                contents: .reachable(from: [commit], history: history), asked: asked))
    }

    /// The room a pack needs beyond its objects' sizes, with plenty to spare: entry headers and zlib framing (a few
    /// bytes per object, about 0.01 % for incompressible data), delta instructions where a delta is chosen (never
    /// more than the object it rebuilds), side-band and pkt-line framing (5 bytes per 64 KiB), the sections before
    /// the pack, and keep-alives and progress a server may send anyway: a quarter of the bytes, 1 KiB per object
    /// and 256 KiB.
    static func overhead(bytes: Int, objects: Int) -> Int {
        let (perObject, overflow) = objects.multipliedReportingOverflow(by: 1024)
        return saturatingSum(saturatingSum(bytes / 4, overflow ? Int.max : perObject), 256 << 10)
    }

    /// The most response bytes for objects of `bytes` in all: the bytes and their ``overhead(bytes:objects:)``.
    static func bound(bytes: Int, objects: Int) -> Int {
        saturatingSum(bytes, overhead(bytes: bytes, objects: objects))
    }

    /// The objects `commit`'s closure holds in the store's trees (the commit, its trees, blobs and symlinks; gitlinks
    /// excepted), or nil while its trees are not all there.
    static func closureSize(listing: TreeListing?) -> Int? {
        guard let listing else { return nil }
        let ids = Set(listing.entries.lazy.filter { $0.mode != .gitlink }.map(\.id))
        return ids.count + 2  // and the root tree and the commit
    }

    private static func saturatingSum(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : sum
    }
}
