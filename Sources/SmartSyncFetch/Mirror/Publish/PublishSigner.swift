import Glibc
import SmartSyncCore
import SmartSyncFileSystem

/// Writes the pointer: `refs`, then `refs.sig` (`ssh-keygen -Y sign -n smart-sync`) when a key is given.
enum PublishSigner {
    /// The namespace of the pointer's signature.
    static let namespace = "smart-sync"
    /// The most a signature may be (an RSA-16384 one is under 5 KB).
    static let signatureLimit = 64 << 10

    /// Signs `pointer` first when `key` is given, then writes `refs` and `refs.sig` through temporary files and
    /// renames them into place (in that order). Without a key, a `refs.sig` an earlier publish left is removed: it
    /// signs other bytes. Returns the bytes written and whether a signature was.
    ///
    /// The two renames are not one step: a publish killed between them leaves the new `refs` beside the old
    /// `refs.sig`, which hosts with `--trusted-key` refuse until the next publish (docs/MIRROR.md).
    static func install(_ pointer: [UInt8], in out: PublishDirectory, key: String?) async throws -> (
        bytes: Int, signed: Bool
    ) {
        guard let key else {
            try out.write(pointer, to: PublishDirectory.refsFile, replacing: true)
            try out.remove(PublishDirectory.signatureFile)
            return (pointer.count, false)
        }
        let signature = try await sign(pointer, key: key)
        let refs = try out.writeTemporary(pointer)
        defer { out.removeTemporary(refs) }
        let sig = try out.writeTemporary(signature)
        defer { out.removeTemporary(sig) }
        try out.install(refs, as: PublishDirectory.refsFile, replacing: true)
        try out.install(sig, as: PublishDirectory.signatureFile, replacing: true)
        return (pointer.count + signature.count, true)
    }

    /// `ssh-keygen -Y sign -n smart-sync -f key` with `message` on stdin: the armored signature from its stdout.
    /// ssh-keygen writes no file this way (given a file, it would write `file.sig` following symlinks).
    static func sign(_ message: [UInt8], key: String) async throws -> [UInt8] {
        guard access(key, R_OK) == 0 else {
            throw SmartSyncError(
                .invalidArgument, "cannot read the signing key '\(key)' given with --sign-key",
                hint: "give an SSH private key file (or, with ssh-agent, its public key)")
        }
        let environment = ChildEnvironment.inheritedWithoutTokens
        guard let keygen = ProcessRunner.find("ssh-keygen", searchPath: environment["PATH"] ?? "/usr/bin:/bin") else {
            throw SmartSyncError(
                .sourceUnavailable, "--sign-key needs ssh-keygen, and none is on PATH", hint: "install openssh-client")
        }
        let arguments = ["-Y", "sign", "-q", "-n", namespace, "-f", key]
        let r = try await ProcessRunner(keygen, arguments, environment: environment)
            .run(input: .bytes(message), output: .capture(limit: signatureLimit), error: .captured)
        let armored = r.stdout
        guard r.status == 0, armored.starts(with: Array("-----BEGIN SSH SIGNATURE-----".utf8)) else {
            throw SmartSyncError(
                .commandFailed, "ssh-keygen could not sign the refs file with '\(key)': \(r.errorExcerpt)",
                hint: "give an unencrypted private key, or load it into ssh-agent and give its public key")
        }
        return armored
    }
}
