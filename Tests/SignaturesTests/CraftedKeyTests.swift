import Foundation
@testable import SmartSyncSignatures
import TestSupport
import Testing

/// Crafted public keys a signature could be forged for, or that OpenSSH refuses: ECDSA points at infinity,
/// compressed or off the curve; small-order Ed25519 keys; RSA moduli out of OpenSSH's bounds. Each is refused both in
/// an allowed-signers file and inside a signature.
@Suite struct CraftedKeyTests {
    static let p256 = Crafted.utf8("ecdsa-sha2-nistp256")
    /// P-256's generator.
    static let gx = [UInt8](hex: "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
    static let gy = [UInt8](hex: "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")

    static func p256Key(point: [UInt8]) -> [UInt8] { Crafted.wire(p256, Crafted.utf8("nistp256"), point) }

    /// Expects `keyBlob` refused in an allowed-signers line (`.invalidArgument`) and in a signature (`.integrity`),
    /// each message containing `phrase`.
    func expectRefused(_ keyBlob: [UInt8], _ phrase: String, _ name: String) {
        let allowed = #expect(throws: SmartSyncError.self, "\(name)") {
            try AllowedSigners(text: Crafted.allowedLine("mallory", keyBlob: keyBlob), source: "allowed")
        }
        #expect(allowed?.code == .invalidArgument)
        #expect(allowed?.message.contains("allowed:1") == true)
        #expect(allowed?.message.contains(phrase) == true, "\(name): \(String(describing: allowed))")
        let value = Crafted.wire(Crafted.utf8("ssh-ed25519"), [UInt8](repeating: 1, count: 64))
        let inSignature = #expect(throws: SmartSyncError.self, "\(name)") {
            try SSHSignature(blob: Crafted.sshsig(keyBlob: keyBlob, value: value), source: "sig")
        }
        #expect(inSignature?.code == .integrity)
        #expect(inSignature?.message.contains(phrase) == true, "\(name): \(String(describing: inSignature))")
    }

    /// The review's forgery: a P-256 key at the point at infinity (SEC1 `00`) verifies r = Gx mod n, s = e (k = 1)
    /// for any message. ssh-keygen refuses it; so must we, at the key.
    @Test func ecdsaPointAtInfinityAndItsForgedSignatureAreRefused() throws {
        let keyBlob = Self.p256Key(point: [0x00])
        let message = Array("hello\n".utf8)
        var e = Digest.sha256.hash(Crafted.signedData(message))
        e = Crafted.mpint(e)
        let value = Crafted.wire(Self.p256, Crafted.wire(Self.gx, e))  // Gx < n, so Gx mod n = Gx
        let forged = Crafted.armor(Crafted.sshsig(keyBlob: keyBlob, value: value))
        let allowedText = Crafted.allowedLine("mallory", keyBlob: keyBlob)
        let lab = try SigningLab()
        let allowedPath = try lab.write(Array(allowedText.utf8), name: "allowed_signers")
        #expect(
            try !lab.sshKeygenVerifies(
                message, signature: forged, allowedSigners: allowedPath, principal: "mallory", namespace: "smart-sync",
                time: "20250601120000Z"))
        let error = #expect(throws: SmartSyncError.self) { try SSHSignature(armored: forged, source: "forged") }
        #expect(error?.message.contains("forged: malformed public key") == true, "\(String(describing: error))")
        expectRefused(keyBlob, "not an uncompressed P-256 point", "infinity")
    }

    @Test func compressedOffCurveAndMisSizedPointsAreRefused() {
        let cases: [(String, [UInt8], String)] = [
            ("compressed generator", [0x03] + Self.gx, "not an uncompressed P-256 point"),
            ("compressed, 02", [0x02] + Self.gx, "not an uncompressed P-256 point"),
            ("hybrid form 06", [0x06] + Self.gx + Self.gy, "not an uncompressed P-256 point"),
            ("P-384 length on P-256", [0x04] + Self.gx + Self.gy + [UInt8](repeating: 1, count: 32), "uncompressed"),
            ("off the curve", [0x04] + Self.gx + Self.gy.dropLast() + [0xf6], "not a valid point of P-256"),
            ("zero coordinates", [0x04] + [UInt8](repeating: 0, count: 64), "not a valid point of P-256"),
        ]
        for (name, point, phrase) in cases { expectRefused(Self.p256Key(point: point), phrase, name) }
        // The generator itself, uncompressed, is a valid key.
        #expect(throws: Never.self) {
            try AllowedSigners(
                text: Crafted.allowedLine("g", keyBlob: Self.p256Key(point: [0x04] + Self.gx + Self.gy)), source: "a")
        }
    }

    /// The review's Ed25519 forgery: the identity key (`01 00…00`) with R = B, S = 1 verifies every message in
    /// ssh-keygen; this module refuses the key instead.
    @Test func ed25519IdentityKeyForgeryIsRefused() throws {
        let keyBlob = Crafted.wire(Crafted.utf8("ssh-ed25519"), [1] + [UInt8](repeating: 0, count: 31))
        let r = [UInt8](hex: "5866666666666666666666666666666666666666666666666666666666666666")  // the base point
        let value = Crafted.wire(Crafted.utf8("ssh-ed25519"), r + [1] + [UInt8](repeating: 0, count: 31))
        let forged = Crafted.armor(Crafted.sshsig(keyBlob: keyBlob, value: value))
        let message = Array("any message at all\n".utf8)
        let lab = try SigningLab()
        let allowedPath = try lab.write(Array(Crafted.allowedLine("mallory", keyBlob: keyBlob).utf8), name: "allowed")
        // ssh-keygen accepts the forgery (a known property of Ed25519 with small-order keys): a difference on purpose.
        #expect(
            try lab.sshKeygenVerifies(
                message, signature: forged, allowedSigners: allowedPath, principal: "mallory", namespace: "smart-sync",
                time: "20250601120000Z"))
        expectRefused(keyBlob, "small-order or non-canonical", "identity")
    }

    /// The 8 small-order points' encodings, non-canonical encodings of them, and other encodings with y >= p.
    @Test(arguments: [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        // Non-canonical: 1 and p - 1 with the sign bit, p (0), p + 1 (1), 2^255 - 1.
        "0100000000000000000000000000000000000000000000000000000000000080",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ])
    func smallOrderAndNonCanonicalEd25519KeysAreRefused(hex: String) {
        let keyBlob = Crafted.wire(Crafted.utf8("ssh-ed25519"), [UInt8](hex: hex))
        expectRefused(keyBlob, "small-order or non-canonical", hex)
    }

    @Test func rsaModuliOutsideOpenSSHsBoundsAreRefused() throws {
        let exponent: [UInt8] = [1, 0, 1]
        func rsaKey(bits: Int) -> [UInt8] {
            // Top byte holding the modulus' leading bits, then odd filler: `bits` bits exactly.
            let count = (bits + 7) / 8
            let top = UInt8(truncatingIfNeeded: (1 << ((bits - 1) % 8 + 1)) - 1)
            let modulus = Crafted.mpint([top] + [UInt8](repeating: 0x55, count: count - 1))
            return Crafted.wire(Crafted.utf8("ssh-rsa"), exponent, modulus)
        }
        expectRefused(rsaKey(bits: 1023), "has 1023 bits, fewer than the 1024", "1023 bits")
        expectRefused(rsaKey(bits: 512), "has 512 bits", "512 bits")
        expectRefused(rsaKey(bits: 16385), "larger than OpenSSH accepts", "16385 bits")
        expectRefused(rsaKey(bits: 1 << 20), "larger than OpenSSH accepts", "a megabit")
        for bits in [1024, 16384] {
            #expect(throws: Never.self, "\(bits) bits") {
                try SSHPublicKey(blob: rsaKey(bits: bits), source: "k", code: .integrity)
            }
        }
    }
}
