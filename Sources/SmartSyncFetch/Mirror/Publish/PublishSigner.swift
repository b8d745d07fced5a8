import Glibc
import SmartSyncCore
import SmartSyncFileSystem

/// Writes the pointer: `refs`, then `refs.sig` (`ssh-keygen -Y sign -n smart-sync`) when a key is given.
enum PublishSigner {
    /// The namespace of the pointer's signature.
    static let namespace = "smart-sync"

    /// Writes `pointer` as `refs` through a temporary file, signing that file first when `key` is given, then
    /// renames `refs` and `refs.sig` into place (in that order). Without a key, a `refs.sig` an earlier publish
    /// left is removed: it signs other bytes. Returns the bytes written and whether a signature was.
    static func install(_ pointer: [UInt8], in out: PublishDirectory, key: String?) async throws -> (
        bytes: Int, signed: Bool
    ) {
        let temporary = try out.writeTemporary(pointer)
        defer { unlink(temporary) }
        guard let key else {
            try out.install(temporary, as: PublishDirectory.refsFile, replacing: true)
            try out.remove(PublishDirectory.signatureFile)
            return (pointer.count, false)
        }
        let signature = try await sign(temporary, key: key)
        defer { unlink(signature.path) }
        try out.install(temporary, as: PublishDirectory.refsFile, replacing: true)
        try out.install(signature.path, as: PublishDirectory.signatureFile, replacing: true)
        return (pointer.count + signature.size, true)
    }

    /// `ssh-keygen -Y sign -n smart-sync -f key file`: `file.sig`, and its size.
    private static func sign(_ file: String, key: String) async throws -> (path: String, size: Int) {
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
        let r = try await ProcessRunner(keygen, ["-Y", "sign", "-n", namespace, "-f", key, file], environment: environment)
            .run()
        let signature = file + ".sig"
        var st = stat()
        guard r.status == 0, stat(signature, &st) == 0 else {
            unlink(signature)
            throw SmartSyncError(
                .commandFailed, "ssh-keygen could not sign the refs file with '\(key)': \(r.errorOutput)",
                hint: "give an unencrypted private key, or load it into ssh-agent and give its public key")
        }
        return (signature, Int(st.st_size))
    }
}
