import Logging
import FoundationEssentials
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

extension MirrorSource {
    /// The most a `refs` file may be (a pointer naming thousands of refs stays far below).
    static let refsLimit = 1 << 20
    /// The most a `refs.sig` file may be: one armored SSH signature (SmartSyncSignatures' `armoredLimit`).
    static let signatureLimit = 64 << 10

    /// With a ``MirrorTrust`` (`--trusted-key`): the commit `ref` names in the mirror's signed `refs`. The signature
    /// must verify; a pointer for another repository, an expired one, or one published before the last accepted
    /// (a replay) is refused, as a failure that moves the run on to the next mirror. A full commit id is the
    /// operator's own pin and needs no pointer. Without a trust, a mirror resolves nothing.
    public func resolve(_ ref: String?) async throws -> ResolvedRef {
        let name = try RefName(ref)
        guard let trust else {
            throw SmartSyncError(
                .sourceUnavailable, "the mirror \(baseURL) resolves refs only with --trusted-key",
                hint: "refs come from the origin; give --trusted-key FILE to take them from the mirror's signed refs")
        }
        if case .commit(let id) = name.kind { return ResolvedRef(name: name.text, commit: id) }
        // refs and refs.sig are two requests: a publish between them makes a good mirror's pair disagree once.
        var (bytes, signature) = try await getSignedRefs()
        let pointer: MirrorRefs
        let signer: String
        do {
            do {
                signer = try trust.verify(bytes, signature, url("refs"))
            } catch {
                (bytes, signature) = try await getSignedRefs()
                signer = try trust.verify(bytes, signature, url("refs"))
            }
            pointer = try MirrorRefs.parse(bytes, source: url("refs"))
        } catch let error as SmartSyncError {
            logger.debug("mirror \(baseURL): refs refused: \(error.message)", metadata: ["mirror": "\(baseURL)"])
            throw SourceFailure(.unusable, error)
        }
        // Read, checked and written under the record's lock: a concurrent run cannot move it back in between.
        let lock = try await FileLock.acquire(
            path: trust.recordPath + ".lock", what: "the accepted refs of \(trust.repository)", shared: false,
            waitingUpTo: .seconds(10))
        defer { lock.release() }
        let kept = try Self.acceptedRefs(trust)
        let digest = ObjectID.hash(.blob, bytes).hex
        do {
            try check(pointer, digest: digest, kept: kept, trust: trust)
        } catch let error as SmartSyncError {
            logger.debug("mirror \(baseURL): refs refused: \(error.message)", metadata: ["mirror": "\(baseURL)"])
            throw SourceFailure(.unusable, error)
        }
        guard let commit = pointer.commit(for: ref) else {
            throw SmartSyncError(
                .notFound, "the signed refs of the mirror \(baseURL) name no ref '\(ref ?? pointer.head)'",
                hint: "publish it with --ref \(ref ?? pointer.head)")
        }
        if kept.map({ $0.repository != trust.repository || $0.published < pointer.published }) ?? true {
            let record = AcceptedRefs(
                repository: trust.repository, published: pointer.published, mirror: baseURL, digest: digest)
            try record.write(to: trust.recordPath, mode: 0o600)
        }
        logger.debug(
            "ref \(ref ?? pointer.head) → \(commit.abbreviated()) from the signed refs of mirror \(baseURL)",
            metadata: ["signer": "\(signer)", "published": "\(pointer.published)", "expires": "\(pointer.expires)"])
        return ResolvedRef(name: ref ?? pointer.head, commit: commit)
    }

    private func getSignedRefs() async throws -> (refs: [UInt8], signature: [UInt8]) {
        let bytes = try await getFile("refs", what: "the refs pointer", limit: Self.refsLimit)
        let signature = try await getFile(
            "refs.sig", what: "the signature of refs (refs.sig)", limit: Self.signatureLimit)
        return (bytes, signature)
    }

    /// The accepted-refs record, failing closed: no file is "nothing accepted yet"; one that cannot be read or
    /// decoded (torn, another version, no permission) refuses the run rather than turning the replay check off.
    static func acceptedRefs(_ trust: MirrorTrust) throws -> AcceptedRefs? {
        do {
            return try AcceptedRefs.read(at: trust.recordPath)?.record
        } catch let error as SmartSyncError {
            throw SourceFailure(
                .local,
                SmartSyncError(
                    .integrity,
                    "the record of the newest signed refs accepted, \(trust.recordPath), cannot be read "
                        + "(\(error.message)); refusing rather than skipping the replay check",
                    hint: "remove \(trust.recordPath) if it is damaged; the next run accepts the newest mirror again",
                    cause: error))
        }
    }

    /// Refuses a pointer for another repository, an expired one, one published in the future or not before its own
    /// expiry, and a replay: one published before the last accepted (`kept`), or at the same second with other bytes.
    private func check(_ pointer: MirrorRefs, digest: String, kept: AcceptedRefs?, trust: MirrorTrust) throws {
        guard MirrorTrust.normalized(pointer.repository) == trust.repository else {
            throw SmartSyncError(
                .integrity,
                "the signed refs of the mirror \(baseURL) are for '\(pointer.repository)', not '\(trust.repository)'",
                hint: "check the --mirror URL")
        }
        let now = Int64(trust.now().timeIntervalSince1970)
        let date = { (t: Int64) in Date(timeIntervalSince1970: Double(t)).formatted(.iso8601) }
        guard now < pointer.expires else {
            throw SmartSyncError(
                .integrity,
                "the signed refs of the mirror \(baseURL) expired at "
                    + "\(date(pointer.expires)); refused (a frozen mirror)",
                hint: "publish the mirror again")
        }
        guard pointer.published <= now + MirrorTrust.clockSkew, pointer.published < pointer.expires else {
            throw SmartSyncError(
                .integrity,
                "the signed refs of the mirror \(baseURL) were published at \(date(pointer.published)), after "
                    + (pointer.published >= pointer.expires ? "their expiry \(date(pointer.expires))" : "now"),
                hint: "check the publishing host's clock, and publish again")
        }
        guard let last = kept, last.repository == trust.repository else { return }
        let replay =
            pointer.published < last.published
            || (pointer.published == last.published && last.digest.map { $0 != digest } ?? false)
        if replay {
            throw SmartSyncError(
                .integrity,
                "the signed refs of the mirror \(baseURL) were published at \(date(pointer.published)), "
                    + (pointer.published < last.published ? "before" : "the same second as, but other than,")
                    + " the ones accepted from \(last.mirror) (published \(date(last.published))); refused as a replay",
                hint: "the mirror is behind or replaying an old pointer: update it")
        }
    }
}
