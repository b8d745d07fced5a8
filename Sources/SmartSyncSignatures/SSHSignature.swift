import FoundationEssentials
import SmartSyncCore

/// An SSH signature in OpenSSH's SSHSIG format (`ssh-keygen -Y sign`, and git's `gpg.format=ssh` commit
/// signatures), parsed but not yet verified.
///
/// The blob (PROTOCOL.sshsig): `byte[6] "SSHSIG"`, `uint32` version 1, `string` public key, `string` namespace,
/// `string` reserved, `string` hash algorithm (`sha256` or `sha512`), `string` signature. Parsing refuses key
/// types this module cannot verify (see ``SSHPublicKey/supportedTypes``), certificates among them.
public struct SSHSignature: Sendable {
    /// The key that made the signature (whether it may is the allowed-signers file's business).
    public let publicKey: SSHPublicKey
    /// The namespace the signer chose (`git` for commits, `smart-sync` for the mirror's refs file).
    public let namespace: String
    /// The `hash_algorithm` field: `sha256` or `sha512`.
    public let hashAlgorithm: String
    /// Where the signature came from (a file, a URL, `commit <id>`), for messages.
    public let source: String
    let digest: Digest
    /// The signature value: `string` signature type, `string` signature bytes.
    let value: [UInt8]

    /// The most bytes an armored signature may have (ssh-keygen's are under 2 KiB, RSA-16384 under 6 KiB): input
    /// from the network is refused before it is parsed.
    public static let armoredLimit = 64 << 10

    static let magic = Array("SSHSIG".utf8)
    static let beginArmor = "-----BEGIN SSH SIGNATURE-----"
    static let endArmor = "-----END SSH SIGNATURE-----"

    /// Parses an armored signature: `-----BEGIN SSH SIGNATURE-----`, base64 lines, `-----END SSH SIGNATURE-----`,
    /// as ssh-keygen writes it (the begin line first; lines end in `\n` or `\r\n`).
    ///
    /// - Parameter source: names the signature in errors (a path, a URL, `commit <id>`).
    /// - Throws: `SmartSyncError(.integrity)` naming `source` when the armor is larger than ``armoredLimit``, the
    ///   armor or the blob is malformed, or the blob uses a key type this module does not verify.
    public init(armored: [UInt8], source: String) throws {
        guard armored.count <= Self.armoredLimit else {
            throw SmartSyncError(
                .integrity,
                "\(source) is \(armored.count) bytes, more than the \(Self.armoredLimit) an SSH signature may have",
                hint: "sign with ssh-keygen -Y sign; the file given is not one signature")
        }
        try self.init(blob: Self.dearmor(armored, source: source), source: source)
    }

    /// Parses the binary SSHSIG blob (what the armor holds in base64).
    public init(blob: [UInt8], source: String) throws {
        var reader = SSHWireReader(blob)
        func malformed(_ what: String) -> SmartSyncError {
            SmartSyncError(.integrity, "\(source): malformed SSH signature: \(what)")
        }
        guard reader.consume(Self.magic) else { throw malformed("it does not start with \"SSHSIG\"") }
        guard let version = reader.uint32() else { throw malformed("no version") }
        guard version == 1 else {
            throw SmartSyncError(
                .integrity, "\(source): SSH signature version \(version) is not supported (only version 1 is)")
        }
        guard let keyBlob = reader.string() else { throw malformed("no public key") }
        guard let namespace = reader.text() else { throw malformed("no namespace") }
        guard reader.string() != nil else { throw malformed("no reserved field") }
        guard let hashAlgorithm = reader.text() else { throw malformed("no hash algorithm") }
        guard let value = reader.string() else { throw malformed("no signature value") }
        guard reader.isAtEnd else { throw malformed("trailing bytes after the signature") }
        guard let digest = Digest(sshsigName: hashAlgorithm) else {
            throw SmartSyncError(
                .integrity, "\(source): hash algorithm \"\(hashAlgorithm)\" is not allowed (sha256 or sha512 are)")
        }
        publicKey = try SSHPublicKey(blob: keyBlob, source: source, code: .integrity)
        self.namespace = namespace
        self.hashAlgorithm = hashAlgorithm
        self.digest = digest
        self.value = value
        self.source = source
    }

    /// The base64 between the armor lines, decoded. Follows ssh-keygen's `sshsig_dearmor`: the input starts with
    /// the begin line and its `\n` or `\r\n`; the end line follows a `\n`; whitespace inside the base64 (a `\r`
    /// before each `\n` among it) is ignored.
    static func dearmor(_ armored: [UInt8], source: String) throws -> [UInt8] {
        let begin = Array(beginArmor.utf8)
        let end = Array(("\n" + endArmor).utf8)
        guard armored.starts(with: begin) else {
            throw SmartSyncError(
                .integrity, "\(source) is not an SSH signature: it does not start with \"\(beginArmor)\"",
                hint: "sign with ssh-keygen -Y sign")
        }
        var body = armored[begin.count...]
        if body.starts(with: [0x0D, 0x0A]) {
            body = body.dropFirst(2)
        } else if body.first == 0x0A {
            body = body.dropFirst()
        } else {
            throw SmartSyncError(
                .integrity, "\(source) is not an SSH signature: \"\(beginArmor)\" is not a line of its own",
                hint: "sign with ssh-keygen -Y sign")
        }
        guard let endIndex = body.firstRange(of: end)?.lowerBound else {
            throw SmartSyncError(.integrity, "\(source): the SSH signature has no \"\(endArmor)\" line")
        }
        let base64 = body[..<endIndex].filter { !Self.isBase64Space($0) }
        guard let blob = Data(base64Encoded: Data(base64)) else {
            throw SmartSyncError(.integrity, "\(source): the SSH signature's base64 is damaged")
        }
        return Array(blob)
    }

    private static func isBase64Space(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
            || byte == UInt8(ascii: "\r")
    }

    /// The bytes the signer signed (PROTOCOL.sshsig): `"SSHSIG"`, `string` namespace, `string` reserved (empty),
    /// `string` hash algorithm, `string` H(message).
    func signedData(for message: [UInt8], namespace: String) -> [UInt8] {
        var writer = SSHWireWriter()
        writer.raw(Self.magic)
        writer.string(Array(namespace.utf8))
        writer.string([UInt8]())
        writer.string(Array(hashAlgorithm.utf8))
        writer.string(digest.hash(message))
        return writer.bytes
    }

    /// Checks the signature alone, with no allowed-signers file: that it is ``publicKey``'s signature of
    /// `message` in `namespace` (`ssh-keygen -Y check-novalidate`). Who may sign is not checked: use
    /// ``AllowedSigners/verify(_:signature:namespace:principal:at:)`` for that.
    ///
    /// - Throws: `SmartSyncError(.integrity)` naming ``source`` when the namespace differs or the signature does
    ///   not verify.
    public func checkWithoutSigners(_ message: [UInt8], namespace expected: String) throws {
        guard namespace == expected else {
            throw SmartSyncError(
                .integrity,
                "\(source): the signature is for namespace \"\(namespace)\", not \"\(expected)\"",
                hint: "sign with ssh-keygen -Y sign -n \(expected)")
        }
        try publicKey.verify(signature: value, of: signedData(for: message, namespace: expected), source: source)
    }
}
