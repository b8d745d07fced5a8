import FoundationEssentials
import SmartSyncCore

extension AllowedSigners {
    /// Verifies `signature` of `message` as `ssh-keygen -Y verify -f FILE -I principal -n namespace` does, with
    /// `-Overify-time` set to `time`: the signature must be valid for its key and `namespace`, and a line of this
    /// file must list that key for `principal`, allow `namespace` (its `namespaces=` option) and be valid at `time`
    /// (`valid-after`, `valid-before`).
    ///
    /// With `principal` nil it does what git does: the principals of the first line that lists the key and is valid
    /// at `time` (`ssh-keygen -Y find-principals`), each tried in turn as above; the first that verifies is the
    /// signer.
    ///
    /// - Throws: `SmartSyncError(.integrity)` naming the signature's source and this file when the signature does
    ///   not verify, no line lists its key, or every line that does excludes it.
    public func verify(
        _ message: [UInt8], signature: SSHSignature, namespace: String, principal: String? = nil, at time: Date
    ) throws -> VerifiedSigner {
        try signature.checkWithoutSigners(message, namespace: namespace)
        let key = signature.publicKey
        let now = Int64(time.timeIntervalSince1970.rounded(.down))
        let candidates: [String]
        if let principal {
            candidates = [principal]
        } else {
            guard let found = findPrincipals(for: key, at: time) else {
                throw SmartSyncError(
                    .integrity,
                    "\(signature.source): no line of \(source) lists the signing \(key) valid at "
                        + SSHTime.format(now),
                    hint: "add the signer's public key to \(source) if it may sign")
            }
            candidates = found
        }
        var refusals: [String] = []
        for candidate in candidates {
            let outcome = check(key: key, principal: candidate, namespace: namespace, at: now)
            if outcome.accepted { return VerifiedSigner(principal: candidate, fingerprint: key.fingerprint) }
            refusals += outcome.refusals
        }
        let who = principal.map { "principal \"\($0)\" with the signing \(key)" } ?? "the signing \(key)"
        let why = refusals.isEmpty ? "" : ": " + refusals.joined(separator: "; ")
        throw SmartSyncError(
            .integrity, "\(signature.source): \(source) does not allow \(who) in namespace \"\(namespace)\"\(why)",
            hint: "check the principals, namespaces= and valid-after/valid-before of its lines in \(source)")
    }

    /// The principals of the first line that lists `key` and is valid at `time`, split at commas (as
    /// `ssh-keygen -Y find-principals` prints them, one a line); nil when no line does. Namespaces are not checked,
    /// as ssh-keygen does not check them here.
    public func findPrincipals(for key: SSHPublicKey, at time: Date) -> [String]? {
        let now = Int64(time.timeIntervalSince1970.rounded(.down))
        for entry in entries where entry.keyBlob == key.blob && Self.validity(of: entry, at: now) == nil {
            // strsep at commas, stopping at the first empty one, as ssh-keygen prints them.
            return Array(
                entry.principals.split(separator: ",", omittingEmptySubsequences: false)
                    .prefix { !$0.isEmpty }.map(String.init))
        }
        return nil
    }

    /// `sshsig_check_allowed_keys`: whether some line lists `key` for `principal`, allows `namespace` and is valid
    /// at `now`; otherwise why each line that lists the key for the principal refused it.
    private func check(key: SSHPublicKey, principal: String, namespace: String, at now: Int64)
        -> (accepted: Bool, refusals: [String])
    {
        var refusals: [String] = []
        for entry in entries where SSHPatternList.match(principal, entry.principals) == .matched {
            guard entry.keyBlob == key.blob else { continue }
            if let namespaces = entry.namespaces, SSHPatternList.match(namespace, namespaces) != .matched {
                refusals.append("line \(entry.line) allows namespaces \"\(namespaces)\" only")
                continue
            }
            if let invalid = Self.validity(of: entry, at: now) {
                refusals.append("line \(entry.line): \(invalid)")
                continue
            }
            return (true, [])
        }
        return (false, refusals)
    }

    /// Why `entry` is not valid at `now`, or nil when it is (ssh-keygen's bounds: valid-after and valid-before
    /// themselves are inside).
    static func validity(of entry: Entry, at now: Int64) -> String? {
        if let after = entry.validAfter, now < after {
            return "the key is not valid before \(SSHTime.format(after)) (checked at \(SSHTime.format(now)))"
        }
        if let before = entry.validBefore, now > before {
            return "the key expired at \(SSHTime.format(before)) (checked at \(SSHTime.format(now)))"
        }
        return nil
    }
}
