import Logging
import Foundation
import SmartSyncCore
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
        let bytes = try await getFile("refs", what: "the refs pointer", limit: Self.refsLimit)
        let signature = try await getFile("refs.sig", what: "the signature of refs (refs.sig)", limit: Self.signatureLimit)
        let pointer: MirrorRefs
        let signer: String
        do {
            signer = try trust.verify(bytes, signature, url("refs"))
            pointer = try MirrorRefs.parse(bytes, source: url("refs"))
            try check(pointer, trust: trust)
        } catch let error as SmartSyncError {
            logger.debug("mirror \(baseURL): refs refused: \(error.message)", metadata: ["mirror": "\(baseURL)"])
            throw SourceFailure(.unusable, error)
        }
        guard let commit = pointer.commit(for: ref) else {
            throw SmartSyncError(
                .notFound, "the signed refs of the mirror \(baseURL) name no ref '\(ref ?? pointer.head)'",
                hint: "publish it with --ref \(ref ?? pointer.head)")
        }
        // Never moved back: another run of the same repository may have accepted a newer pointer meanwhile.
        let kept = (try? AcceptedRefs.read(at: trust.recordPath))??.record
        if kept == nil || kept!.repository != trust.repository || kept!.published < pointer.published {
            let record = AcceptedRefs(repository: trust.repository, published: pointer.published, mirror: baseURL)
            try record.write(to: trust.recordPath, mode: 0o600)
        }
        logger.debug(
            "ref \(ref ?? pointer.head) → \(commit.abbreviated()) from the signed refs of mirror \(baseURL)",
            metadata: ["signer": "\(signer)", "published": "\(pointer.published)", "expires": "\(pointer.expires)"])
        return ResolvedRef(name: ref ?? pointer.head, commit: commit)
    }

    /// Refuses a pointer for another repository, an expired one, and a replay of an older one.
    private func check(_ pointer: MirrorRefs, trust: MirrorTrust) throws {
        guard pointer.repository == trust.repository else {
            throw SmartSyncError(
                .integrity,
                "the signed refs of the mirror \(baseURL) are for '\(pointer.repository)', not '\(trust.repository)'",
                hint: "check the --mirror URL")
        }
        let now = Int64(trust.now().timeIntervalSince1970)
        guard now < pointer.expires else {
            let when = Date(timeIntervalSince1970: Double(pointer.expires)).formatted(.iso8601)
            throw SmartSyncError(
                .integrity, "the signed refs of the mirror \(baseURL) expired at \(when); refused (a frozen mirror)",
                hint: "publish the mirror again")
        }
        let last = try? AcceptedRefs.read(at: trust.recordPath)?.record
        if let last, last.repository == trust.repository, pointer.published < last.published {
            let (then, was) = (
                Date(timeIntervalSince1970: Double(pointer.published)).formatted(.iso8601),
                Date(timeIntervalSince1970: Double(last.published)).formatted(.iso8601)
            )
            throw SmartSyncError(
                .integrity,
                "the signed refs of the mirror \(baseURL) were published at \(then), before the ones accepted from "
                    + "\(last.mirror) (published \(was)); refused as a replay",
                hint: "the mirror is behind or replaying an old pointer: update it")
        }
    }
}
