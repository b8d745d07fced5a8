/// The NIST curves OpenSSH's ECDSA keys use.
enum ECDSACurve: Sendable, Hashable {
    case p256, p384, p521

    init?(keyType: String) {
        switch keyType {
        case "ecdsa-sha2-nistp256": self = .p256
        case "ecdsa-sha2-nistp384": self = .p384
        case "ecdsa-sha2-nistp521": self = .p521
        default: return nil
        }
    }

    /// The curve's name inside the key encoding.
    var name: String {
        switch self {
        case .p256: "nistp256"
        case .p384: "nistp384"
        case .p521: "nistp521"
        }
    }

    /// OpenSSL's group name.
    var group: String {
        switch self {
        case .p256: "P-256"
        case .p384: "P-384"
        case .p521: "P-521"
        }
    }

    /// The length of an uncompressed SEC1 point (`04 || x || y`), the only form OpenSSH's keys carry.
    var pointLength: Int {
        switch self {
        case .p256: 65
        case .p384: 97
        case .p521: 133
        }
    }

    /// The digest RFC 5656 pairs with the curve.
    var digest: Digest {
        switch self {
        case .p256: .sha256
        case .p384: .sha384
        case .p521: .sha512
        }
    }
}
