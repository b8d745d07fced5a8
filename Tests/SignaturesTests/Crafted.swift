import Foundation
@testable import SmartSyncSignatures

/// Hand-made SSH wire encodings for the crafted-input tests, written with the module's own ``SSHWireWriter``.
enum Crafted {
    /// The `string`s of `parts`, one after another.
    static func wire(_ parts: [UInt8]...) -> [UInt8] {
        var writer = SSHWireWriter()
        for part in parts { writer.string(part) }
        return writer.bytes
    }

    /// `text` as bytes, for ``wire(_:)``.
    static func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// An SSHSIG blob by `keyBlob` with signature value `value` (`string` type, `string` bytes).
    static func sshsig(keyBlob: [UInt8], value: [UInt8], namespace: String = "smart-sync") -> [UInt8] {
        var writer = SSHWireWriter()
        writer.raw(SSHSignature.magic)
        writer.raw([0, 0, 0, 1])
        writer.string(keyBlob)
        writer.string(utf8(namespace))
        writer.string([UInt8]())
        writer.string(utf8("sha512"))
        writer.string(value)
        return writer.bytes
    }

    /// The data an SSHSIG with hash `sha512` signs for `message` in `namespace` (PROTOCOL.sshsig), computed here
    /// rather than by the parser under test.
    static func signedData(_ message: [UInt8], namespace: String = "smart-sync") -> [UInt8] {
        var writer = SSHWireWriter()
        writer.raw(SSHSignature.magic)
        writer.string(utf8(namespace))
        writer.string([UInt8]())
        writer.string(utf8("sha512"))
        writer.string(Digest.sha512.hash(message))
        return writer.bytes
    }

    /// The armor ssh-keygen writes around `blob`.
    static func armor(_ blob: [UInt8]) -> [UInt8] {
        let base64 = Data(blob).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
        return Array("-----BEGIN SSH SIGNATURE-----\n\(base64)\n-----END SSH SIGNATURE-----\n".utf8)
    }

    /// An allowed-signers line for `keyBlob` (whose type it names).
    static func allowedLine(_ principal: String, keyBlob: [UInt8]) -> String {
        var reader = SSHWireReader(keyBlob)
        return "\(principal) \(reader.text() ?? "?") \(Data(keyBlob).base64EncodedString())\n"
    }

    /// The key blob of a `.pub` line (`type base64 comment`).
    static func keyBlob(ofPublicKeyLine line: String) -> [UInt8] {
        Array(Data(base64Encoded: String(line.split(separator: " ")[1])) ?? Data())
    }

    /// A minimal non-negative mpint's bytes for the big-endian magnitude `magnitude`.
    static func mpint(_ magnitude: [UInt8]) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if let first = bytes.first, first & 0x80 != 0 { bytes.insert(0, at: 0) }
        return bytes
    }
}

extension Array where Element == UInt8 {
    /// Bytes from hex digits.
    init(hex: String) {
        let digits = Array(hex.utf8)
        self = stride(from: 0, to: digits.count - 1, by: 2).map {
            UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16) ?? 0
        }
    }
}
