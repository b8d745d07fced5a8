import CLibCrypto

/// The digests SSH signatures use, on OpenSSL's EVP interface.
enum Digest: Sendable, Hashable {
    case sha256, sha384, sha512

    /// The `hash_algorithm` names an SSHSIG blob may carry (PROTOCOL.sshsig allows exactly these two).
    init?(sshsigName: String) {
        switch sshsigName {
        case "sha256": self = .sha256
        case "sha512": self = .sha512
        default: return nil
        }
    }

    /// OpenSSL's digest.
    var md: OpaquePointer? {
        switch self {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        }
    }

    /// The digest of `bytes`, in one call.
    func hash(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { EVP_Digest($0.baseAddress, $0.count, &out, &length, md, nil) }
        precondition(ok == 1, "EVP_Digest failed: out of memory")
        return Array(out.prefix(Int(length)))
    }
}
