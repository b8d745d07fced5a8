import CLibCrypto
import SmartSyncCore

extension SSHPublicKey {
    /// Checks that `signature` (an SSH signature encoding: `string` type, `string` bytes) is this key's signature
    /// of `data`, as OpenSSH's `sshkey_verify` does for SSHSIG: an RSA key must sign with rsa-sha2-256 or
    /// rsa-sha2-512 (a SHA-1 `ssh-rsa` signature is refused, as ssh-keygen refuses it).
    ///
    /// - Throws: `SmartSyncError(.integrity)` naming `source` when the signature is malformed or does not verify.
    func verify(signature: [UInt8], of data: [UInt8], source: String) throws {
        var reader = SSHWireReader(signature)
        guard let signatureType = reader.text(), let bytes = reader.string(), reader.isAtEnd else {
            throw SmartSyncError(.integrity, "\(source): malformed signature value")
        }
        let verified: Bool
        switch algorithm {
        case .ed25519(let key):
            try expect(signatureType, "ssh-ed25519", source: source)
            guard bytes.count == 64 else {
                throw SmartSyncError(.integrity, "\(source): an Ed25519 signature is 64 bytes")
            }
            let pkey = key.withUnsafeBufferPointer {
                EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count)
            }
            verified = Self.check(pkey, digest: nil, signature: bytes, data: data)
        case .ecdsa(let curve, let point):
            try expect(signatureType, type, source: source)
            var inner = SSHWireReader(bytes)
            guard let r = inner.positiveMPInt(), let s = inner.positiveMPInt(), inner.isAtEnd,
                let der = Self.ecdsaDER(r: r, s: s)
            else { throw SmartSyncError(.integrity, "\(source): malformed ECDSA signature value") }
            let pkey = point.withUnsafeBufferPointer { ss_ec_public_key(curve.group, $0.baseAddress, $0.count) }
            guard pkey != nil else {
                throw SmartSyncError(.integrity, "\(source): the ECDSA key's point is not on \(curve.group)")
            }
            verified = Self.check(pkey, digest: curve.digest, signature: der, data: data)
        case .rsa(let modulus, let exponent):
            let digest: Digest
            switch signatureType {
            case "rsa-sha2-256": digest = .sha256
            case "rsa-sha2-512": digest = .sha512
            case "ssh-rsa":
                throw SmartSyncError(
                    .integrity, "\(source): the RSA signature uses SHA-1 (ssh-rsa), which ssh-keygen refuses too",
                    hint: "sign again with a current ssh-keygen (it signs with rsa-sha2-512)")
            default:
                throw SmartSyncError(.integrity, "\(source): unknown RSA signature type \"\(signatureType)\"")
            }
            guard bytes.count <= modulus.count else {
                throw SmartSyncError(.integrity, "\(source): the RSA signature is longer than the key's modulus")
            }
            // OpenSSH accepts a signature with its leading zero bytes dropped; OpenSSL wants the modulus length.
            let padded = [UInt8](repeating: 0, count: modulus.count - bytes.count) + bytes
            let pkey = modulus.withUnsafeBufferPointer { n in
                exponent.withUnsafeBufferPointer { e in
                    ss_rsa_public_key(n.baseAddress, n.count, e.baseAddress, e.count)
                }
            }
            guard pkey != nil else { throw SmartSyncError(.integrity, "\(source): OpenSSL refused the RSA key") }
            verified = Self.check(pkey, digest: digest, signature: padded, data: data)
        }
        guard verified else {
            throw SmartSyncError(
                .integrity,
                "\(source): the signature by \(self) does not verify: the signed data was changed or the signature "
                    + "is damaged")
        }
    }

    private func expect(_ signatureType: String, _ expected: String, source: String) throws {
        guard signatureType == expected else {
            throw SmartSyncError(.integrity, "\(source): a \(type) key cannot make a \"\(signatureType)\" signature")
        }
    }

    /// Verifies with `pkey` (freed here); false when `pkey` is nil.
    private static func check(_ pkey: OpaquePointer?, digest: Digest?, signature: [UInt8], data: [UInt8]) -> Bool {
        guard let pkey else { return false }
        defer { EVP_PKEY_free(pkey) }
        let result = signature.withUnsafeBufferPointer { sig in
            data.withUnsafeBufferPointer { message in
                ss_digest_verify(pkey, digest?.md, sig.baseAddress, sig.count, message.baseAddress, message.count)
            }
        }
        return result == 1
    }

    /// The DER `ECDSA-Sig-Value` OpenSSL verifies, from SSH's `r` and `s`.
    private static func ecdsaDER(r: [UInt8], s: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 16 + 2 * (r.count + s.count + 2))
        let length = r.withUnsafeBufferPointer { r in
            s.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer {
                    ss_ecdsa_signature_der(r.baseAddress, r.count, s.baseAddress, s.count, $0.baseAddress, $0.count)
                }
            }
        }
        guard length > 0 else { return nil }
        return Array(out.prefix(Int(length)))
    }
}
