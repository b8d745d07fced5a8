import Foundation
@testable import SmartSyncSignatures
import TestSupport
import Testing

/// Crafted SSHSIG blobs and signature values: lengths past the end, negative and non-minimal mpints, a signature
/// type that does not match the key. Each is refused with an error naming the source.
@Suite struct CraftedBlobTests {
    let message = Array("payload\n".utf8)

    /// A real key of `type` from ssh-keygen: its blob.
    func realKey(_ lab: SigningLab, type: String) throws -> [UInt8] {
        Crafted.keyBlob(ofPublicKeyLine: try lab.publicKey(lab.makeKey(type, type: type)))
    }

    func expectRefused(blob: [UInt8], _ phrase: String, _ name: String) {
        let error = #expect(throws: SmartSyncError.self, "\(name)") {
            try SSHSignature(blob: blob, source: "crafted")
                .checkWithoutSigners(message, namespace: "smart-sync")
        }
        #expect(error?.code == .integrity, "\(name)")
        #expect(error?.message.hasPrefix("crafted") == true, "\(name): \(String(describing: error))")
        #expect(error?.message.contains(phrase) == true, "\(name): \(String(describing: error))")
    }

    @Test func lengthPrefixesPastTheEndAreRefused() throws {
        let key = try realKey(SigningLab(), type: "ed25519")
        let value = Crafted.wire(Crafted.utf8("ssh-ed25519"), [UInt8](repeating: 7, count: 64))
        let good = Crafted.sshsig(keyBlob: key, value: value)
        // The key's length (right after the magic and version) claims one byte more than the whole blob holds.
        var keyTooLong = good
        keyTooLong.replaceSubrange(10..<14, with: Crafted.wire([UInt8](repeating: 0, count: good.count)).prefix(4))
        expectRefused(blob: keyTooLong, "no public key", "key length past the end")
        // A length near 2^32.
        expectRefused(blob: SSHSignature.magic + [0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x41], "no public key", "2^32")
        // The blob cut inside the signature value, and cut inside the version.
        expectRefused(blob: Array(good.dropLast(3)), "no signature value", "value cut")
        expectRefused(blob: Array(good.prefix(8)), "no version", "version cut")
        // Inside the key: an Ed25519 key string claiming 33 bytes.
        let badKey = Crafted.wire(Crafted.utf8("ssh-ed25519")) + [0, 0, 0, 33] + key.suffix(32)
        expectRefused(blob: Crafted.sshsig(keyBlob: badKey, value: value), "an Ed25519 key is 32 bytes", "key cut")
        // Inside the value: the signature bytes' length past the value's end.
        let cutValue = Crafted.wire(Crafted.utf8("ssh-ed25519")) + [0, 0, 0, 65] + [UInt8](repeating: 7, count: 64)
        expectRefused(blob: Crafted.sshsig(keyBlob: key, value: cutValue), "malformed signature value", "value")
    }

    @Test func negativeAndNonMinimalMPIntsAreRefused() throws {
        // In an RSA key: a negative exponent, a needless leading zero, a negative modulus.
        let modulus = Crafted.mpint([0xc5] + [UInt8](repeating: 0x55, count: 255))
        let keys: [(String, [UInt8], [UInt8])] = [
            ("negative exponent", [0x81, 0x01], modulus),
            ("non-minimal exponent", [0x00, 0x01, 0x00, 0x01], modulus),
            ("negative modulus", [1, 0, 1], Array(modulus.dropFirst())),
            ("non-minimal modulus", [1, 0, 1], [0] + modulus),
        ]
        for (name, exponent, modulus) in keys {
            let key = Crafted.wire(Crafted.utf8("ssh-rsa"), exponent, modulus)
            let value = Crafted.wire(Crafted.utf8("rsa-sha2-512"), [UInt8](repeating: 1, count: 256))
            expectRefused(blob: Crafted.sshsig(keyBlob: key, value: value), "bad RSA exponent or modulus", name)
        }
        // In an ECDSA signature: r or s negative, or with a needless leading zero.
        let ecdsa = try realKey(SigningLab(), type: "ecdsa")
        let good = [UInt8](repeating: 0x11, count: 32)
        let values: [(String, [UInt8], [UInt8])] = [
            ("negative r", [0x80] + good, good), ("negative s", good, [0xff]),
            ("non-minimal r", [0] + good, good), ("non-minimal s", good, [0, 0x7f]),
        ]
        for (name, r, s) in values {
            let value = Crafted.wire(Crafted.utf8("ecdsa-sha2-nistp256"), Crafted.wire(r, s))
            expectRefused(blob: Crafted.sshsig(keyBlob: ecdsa, value: value), "malformed ECDSA signature value", name)
        }
    }

    @Test func signatureTypeNotMatchingTheKeyIsRefused() throws {
        let lab = try SigningLab()
        let ed25519 = try realKey(lab, type: "ed25519")
        let ecdsa = try realKey(lab, type: "ecdsa")
        let rsa = try realKey(lab, type: "rsa")
        let bytes = [UInt8](repeating: 1, count: 64)
        let cases: [(String, [UInt8], String, String)] = [
            ("ed25519 key, ECDSA signature", ed25519, "ecdsa-sha2-nistp256", "cannot make a \"ecdsa-sha2-nistp256\""),
            ("ed25519 key, RSA signature", ed25519, "rsa-sha2-512", "cannot make a \"rsa-sha2-512\""),
            ("ECDSA key, Ed25519 signature", ecdsa, "ssh-ed25519", "cannot make a \"ssh-ed25519\""),
            ("ECDSA P-256 key, P-384 signature", ecdsa, "ecdsa-sha2-nistp384", "cannot make"),
            ("RSA key, Ed25519 signature", rsa, "ssh-ed25519", "unknown RSA signature type \"ssh-ed25519\""),
        ]
        for (name, key, type, phrase) in cases {
            let value = Crafted.wire(Crafted.utf8(type), bytes)
            expectRefused(blob: Crafted.sshsig(keyBlob: key, value: value), phrase, name)
        }
    }
}
