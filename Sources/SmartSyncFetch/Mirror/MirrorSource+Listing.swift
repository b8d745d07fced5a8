import Logging
import SmartSyncCore
import Synchronization
import SmartSyncGitObjects

extension MirrorSource {
    /// The longest a `commits/` file may be (a commit's headers and message).
    static let commitLimit = 4 << 20
    /// The longest a `listings/` file may be: about 40 times the largest public source trees' listings.
    static let listingLimit = 512 << 20
    /// How many commits ``isAncestor(_:of:)`` reads before it gives up (the layout keeps 1,000 per publish).
    static let historyLimit = 10_000

    /// The commit's root tree from `commits/`, then `listings/<tree>`, parsed and verified up to that tree here, so
    /// a listing that is missing, damaged or altered moves the run on instead of failing it.
    public func listing(for ref: ResolvedRef) async throws -> TreeListing {
        let body = try await commitObject(ref.commit)
        guard let commit = CommitObject.parse(body) else {
            throw failure(.unusable, "the mirror \(baseURL) serves commit \(ref.commit) without a tree line")
        }
        if let known = ref.rootTree, known != commit.tree {
            throw failure(
                .unusable, "the mirror \(baseURL) serves commit \(ref.commit) with tree \(commit.tree), not \(known)")
        }
        let path = "listings/" + Self.split(commit.tree)
        let bytes = try await getFile(path, what: "the listing of tree \(commit.tree)", limit: Self.listingLimit)
        let listing: TreeListing
        do {
            listing = try MirrorListing.parse(bytes, commit: ref.commit, rootTree: commit.tree, source: url(path))
            try listing.verify()
        } catch let error as SmartSyncError {
            logger.debug(
                "mirror \(baseURL): the listing of \(commit.tree.abbreviated()) failed verification, discarded",
                metadata: ["mirror": "\(baseURL)"])
            throw failure(
                .unusable, "the mirror \(baseURL) serves a listing of tree \(commit.tree) that fails verification: "
                    + error.message, cause: error)
        }
        var seen = Set<ObjectID>()
        let blobs = listing.files.count { seen.insert($0.id).inserted }
        state.withLock { $0.listedBlobs[ref.commit] = blobs }
        logger.debug(
            "listing of \(ref.commit.abbreviated()) from mirror \(baseURL): \(listing.entries.count) entries, verified",
            metadata: ["mirror": "\(baseURL)", "tree": "\(commit.tree.abbreviated())"])
        return listing
    }

    /// The body of commit `id` from `commits/`, verified to hash to `id` (git's bytes without the `commit <size>\0`
    /// header). A file that does not is `.integrity`, naming the mirror.
    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        let body = try await getFile("commits/" + Self.split(id), what: "commit \(id)", limit: Self.commitLimit)
        let computed = ObjectID.hash(.commit, body)
        guard computed == id else {
            logger.debug("mirror \(baseURL): commit \(id.abbreviated()) hashes to \(computed.abbreviated()), discarded")
            throw failure(
                .unusable, "the mirror \(baseURL) serves commit \(id) with content that hashes to \(computed); discarded",
                hint: "the mirror or a cache in front of it altered the file")
        }
        return body
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors, by following `parent` lines through `commits/`
    /// (each commit verified). nil when the history runs out first (a commit the mirror does not have, beyond what
    /// was published) or after ``historyLimit`` commits: the mirror cannot tell.
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        var queue = [descendant]
        var seen: Set<ObjectID> = [descendant]
        var read = 0
        var ranOut = false
        while !queue.isEmpty {
            let id = queue.removeFirst()
            if id == ancestor { return true }
            guard read < Self.historyLimit else { return nil }
            read += 1
            let body: [UInt8]
            do {
                body = try await commitObject(id)
            } catch let error as SmartSyncError where error.code == .notFound {
                ranOut = true
                continue
            }
            guard let commit = CommitObject.parse(body) else {
                throw failure(.unusable, "the mirror \(baseURL) serves commit \(id) without a tree line")
            }
            for parent in commit.parents where seen.insert(parent).inserted { queue.append(parent) }
        }
        return ranOut ? nil : false
    }
}
