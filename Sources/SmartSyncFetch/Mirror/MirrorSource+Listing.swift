import Logging
import SmartSyncCore
import Synchronization
import SmartSyncGitObjects

extension MirrorSource {
    /// The longest a `commits/` file may be (a commit's headers and message).
    static let commitLimit = 4 << 20
    /// The longest a `listings/` file may be: about 5 times the largest public source trees' listings (the file is
    /// read into memory and expanded, so this bounds what one untrusted file can cost).
    static let listingLimit = 64 << 20
    /// How many commits ``isAncestor(_:of:)`` reads (one request each) before it gives up: the layout keeps 1,000
    /// per publish and back to the previous one; past that the origin, if any, is asked.
    static let historyLimit = 2_000

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
        // The sizes are the mirror's word (no hash covers them): kept here as hints for this mirror's own downloads
        // and its pack's bound, never handed on, so a lie cannot hold the origin (or the store) to a wrong size.
        var hints: [ObjectID: Int] = [:]
        for entry in listing.files { hints[entry.id] = entry.size }
        let total = hints.values.reduce(0) { $0.addingReportingOverflow($1).overflow ? Int.max : $0 + $1 }
        state.withLock {
            $0.listed[ref.commit] = Listed(
                blobs: hints.count, bytes: total, objects: PackBudget.closureSize(listing: listing))
            $0.sizeHints.merge(hints) { $1 }
        }
        logger.debug(
            "listing of \(ref.commit.abbreviated()) from mirror \(baseURL): \(listing.entries.count) entries, verified",
            metadata: ["mirror": "\(baseURL)", "tree": "\(commit.tree.abbreviated())"])
        var entries = listing.entries
        for i in entries.indices where entries[i].mode.isBlob { entries[i].size = nil }
        return TreeListing(commit: listing.commit, rootTree: listing.rootTree, entries: entries)
    }

    /// The body of commit `id` from `commits/`, verified to hash to `id` (git's bytes without the `commit <size>\0`
    /// header). A file that does not is `.integrity`, naming the mirror.
    public func commitObject(_ id: ObjectID) async throws -> [UInt8] {
        let body = try await getFile("commits/" + Self.split(id), what: "commit \(id)", limit: Self.commitLimit)
        let computed = ObjectID.hash(.commit, body)
        guard computed == id else {
            logger.debug("mirror \(baseURL): commit \(id.abbreviated()) hashes to \(computed.abbreviated()), discarded")
            throw failure(
                .unusable, "the mirror \(baseURL) serves commit \(id) with content that "
                    + "hashes to \(computed); discarded",
                hint: "the mirror or a cache in front of it altered the file")
        }
        return body
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors, by following `parent` lines through `commits/`
    /// (each commit verified). nil when the history runs out first (a commit the mirror does not have, beyond what
    /// was published) or after ``historyLimit`` commits: the mirror cannot tell.
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Bool? {
        switch try await ancestry(ancestor, of: descendant) {
        case .told(let answer): answer
        case .cannotTell: nil
        case .down(let error): throw error
        }
    }

    /// What ``isAncestor(_:of:)`` found: an answer, or why there is none.
    enum Ancestry {
        case told(Bool)
        /// `lacksDescendant`: the mirror has not published `descendant` itself (its `commits/` file not found), so it
        /// cannot serve its listing either; false when it has it but not the way down to the ancestor (a commit below
        /// it not published, or past ``MirrorSource/historyLimit``).
        case cannotTell(lacksDescendant: Bool)
        /// The request for `descendant` itself failed with the mirror down (``MirrorSource/downReason(_:)``): it
        /// cannot serve its listing either. A failure further down the walk is thrown: the mirror has `descendant`.
        case down(SmartSyncError)
    }

    /// ``isAncestor(_:of:)``'s walk, telling a mirror that lacks the new commit from one that has it but cannot tell.
    func ancestry(_ ancestor: ObjectID, of descendant: ObjectID) async throws -> Ancestry {
        var queue = [descendant]
        var seen: Set<ObjectID> = [descendant]
        var ranOut = false
        var next = 0
        while next < queue.count {
            let id = queue[next]
            next += 1
            if id == ancestor { return .told(true) }
            guard next <= Self.historyLimit else { return .cannotTell(lacksDescendant: false) }
            let body: [UInt8]
            do {
                body = try await commitObject(id)
            } catch let error as SmartSyncError where error.code == .notFound {
                // beyond what was published: this mirror cannot tell, never "no"
                if id == descendant { return .cannotTell(lacksDescendant: true) }
                ranOut = true
                continue
            } catch let error as SmartSyncError where id == descendant && Self.downReason(error) != nil {
                return .down(error)
            }
            guard let commit = CommitObject.parse(body) else {
                throw failure(.unusable, "the mirror \(baseURL) serves commit \(id) without a tree line")
            }
            for parent in commit.parents where seen.insert(parent).inserted { queue.append(parent) }
        }
        return ranOut ? .cannotTell(lacksDescendant: false) : .told(false)
    }
}
