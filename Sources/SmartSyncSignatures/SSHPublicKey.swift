import CLibCrypto
import FoundationEssentials
import SmartSyncCore

/// An SSH public key of a type smart-sync verifies signatures with: Ed25519, ECDSA on NIST P-256/384/521, or RSA.
///
/// Parsed from the wire encoding OpenSSH uses in signatures and in `.pub` / allowed-signers lines. Two keys are
/// equal when their encodings are (the encodings are canonical: mpints minimal, points uncompressed).
public struct SSHPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The algorithm and the parameters smart-sync needs to verify with it.
    enum Algorithm: Sendable, Hashable {
        case ed25519(key: [UInt8])
        case ecdsa(curve: ECDSACurve, point: [UInt8])
        case rsa(modulus: [UInt8], exponent: [UInt8])
    }

    /// The key's wire encoding (what `.pub` files hold in base64).
    public let blob: [UInt8]
    /// The key type name: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ...
    public let type: String
    let algorithm: Algorithm

    /// The key types this module verifies, for messages.
    public static let supportedTypes =
        "ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521 and ssh-rsa "
        + "(with rsa-sha2-256 or rsa-sha2-512 signatures)"

    /// The smallest RSA modulus OpenSSH accepts, in bits.
    static let minimumRSABits = 1024
    /// The largest RSA modulus OpenSSH accepts, in bits (a bigger one is refused before any work is done on it).
    static let maximumRSABits = 16384

    /// Parses a key's wire encoding. `source` names where it came from, for errors; `code` is the error code to
    /// throw (`.integrity` for a signature's key, `.invalidArgument` for a configured one).
    init(blob: [UInt8], source: String, code: SmartSyncError.Code) throws {
        var reader = SSHWireReader(blob)
        func malformed(_ what: String) -> SmartSyncError {
            SmartSyncError(code, "\(source): malformed public key: \(what)")
        }
        guard let type = reader.text() else { throw malformed("no key type") }
        switch type {
        case "ssh-ed25519":
            guard let key = reader.string(), key.count == 32 else { throw malformed("an Ed25519 key is 32 bytes") }
            guard !Self.isWeakEd25519(key) else {
                throw malformed("the Ed25519 key is a small-order or non-canonical point, which any signature matches")
            }
            algorithm = .ed25519(key: key)
        case "ssh-rsa":
            guard let exponent = reader.positiveMPInt(), let modulus = reader.positiveMPInt() else {
                throw malformed("bad RSA exponent or modulus")
            }
            let bits = modulus.count * 8 - (modulus.first.map { $0.leadingZeroBitCount } ?? 0)
            guard bits >= Self.minimumRSABits else {
                throw SmartSyncError(
                    code,
                    "\(source): the RSA key has \(bits) bits, fewer than the \(Self.minimumRSABits) OpenSSH accepts",
                    hint: "sign with a larger key (ssh-keygen -t ed25519)")
            }
            guard bits <= Self.maximumRSABits, exponent.count <= 8 else {
                throw malformed("the RSA modulus or exponent is larger than OpenSSH accepts")
            }
            algorithm = .rsa(modulus: modulus, exponent: exponent)
        default:
            guard let curve = ECDSACurve(keyType: type) else {
                throw SmartSyncError(
                    code, "\(source): \(type) keys are not supported; smart-sync verifies \(Self.supportedTypes)",
                    hint: Self.unsupportedHint(type))
            }
            guard reader.text() == curve.name, let point = reader.string() else {
                throw malformed("the curve name does not match \(type)")
            }
            try Self.checkPoint(point, on: curve, malformed: malformed)
            algorithm = .ecdsa(curve: curve, point: point)
        }
        guard reader.isAtEnd else { throw malformed("trailing bytes after the key") }
        self.blob = blob
        self.type = type
    }

    private static func unsupportedHint(_ type: String) -> String {
        if type.contains("-cert-v01@openssh.com") {
            return "certificates are not supported: list the signer's plain public key instead"
        }
        if type.hasPrefix("sk-") { return "security-key (FIDO) keys are not supported: sign with an ssh-ed25519 key" }
        return "sign with an ssh-ed25519 key (ssh-keygen -t ed25519)"
    }

    /// The key's SHA-256 fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64.
    public var fingerprint: String {
        var base64 = Data(Digest.sha256.hash(blob)).base64EncodedString()
        while base64.hasSuffix("=") { base64.removeLast() }
        return "SHA256:" + base64
    }

    /// The short algorithm name ssh-keygen prints beside a fingerprint: `ED25519`, `ECDSA`, `RSA`.
    public var shortName: String {
        switch algorithm {
        case .ed25519: "ED25519"
        case .ecdsa: "ECDSA"
        case .rsa: "RSA"
        }
    }

    /// `ED25519 key SHA256:…`, for messages.
    public var description: String { "\(shortName) key \(fingerprint)" }

    public static func == (lhs: SSHPublicKey, rhs: SSHPublicKey) -> Bool { lhs.blob == rhs.blob }
    public func hash(into hasher: inout Hasher) { hasher.combine(blob) }
}
