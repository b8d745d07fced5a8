import CLibCrypto
import SmartSyncCore

extension SSHPublicKey {
    /// Refuses an ECDSA point OpenSSH would refuse (`sshkey_ec_validate_public`): only the uncompressed SEC1 form
    /// (`04 || x || y`, 65/97/133 bytes for P-256/384/521), and the key OpenSSL builds from it must pass
    /// `EVP_PKEY_public_check` (not the point at infinity, on the curve, of the group's order). A key that fails
    /// here would let anyone forge signatures for it (the point at infinity verifies `r = Gx mod n, s = e`).
    static func checkPoint(_ point: [UInt8], on curve: ECDSACurve, malformed: (String) -> SmartSyncError) throws {
        guard point.first == 0x04, point.count == curve.pointLength else {
            throw malformed(
                "the ECDSA point is not an uncompressed \(curve.group) point (04 and \(curve.pointLength - 1) bytes)")
        }
        let pkey = point.withUnsafeBufferPointer { ss_ec_public_key(curve.group, $0.baseAddress, $0.count) }
        guard let pkey else { throw malformed("the ECDSA point is not a valid point of \(curve.group)") }
        EVP_PKEY_free(pkey)
    }

    /// Whether a 32-byte Ed25519 public key is a point any signature can be made for without the private key: one
    /// of the 8 points of small order (libsodium's list, compared without the sign bit, so their non-canonical
    /// encodings too), or any encoding whose y is not below p = 2^255 - 19.
    static func isWeakEd25519(_ key: [UInt8]) -> Bool {
        precondition(key.count == 32)
        var y = key
        y[31] &= 0x7f
        // y >= p: 7f ff … ff and a low byte of ed or more (little-endian).
        if y[31] == 0x7f, y[1...30].allSatisfy({ $0 == 0xff }), y[0] >= 0xed { return true }
        return smallOrderEd25519.contains(y)
    }

    /// The small-order points of edwards25519 with the sign bit cleared (libsodium's `has_small_order` list, less
    /// its non-canonical entries, which the y >= p test covers): 0 (order 4), 1 (order 1), the two of order 8, and
    /// p - 1 (order 2).
    private static let smallOrderEd25519: [[UInt8]] = [
        [UInt8](repeating: 0, count: 32),
        [1] + [UInt8](repeating: 0, count: 31),
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
            0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
            0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
        ],
        [0xec] + [UInt8](repeating: 0xff, count: 30) + [0x7f],
    ]
}
