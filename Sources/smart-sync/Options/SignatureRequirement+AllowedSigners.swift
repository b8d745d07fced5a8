import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncPipeline

extension SignatureRequirement {
    /// Commits must verify for a principal of the allowed-signers file at `path`, as `git verify-commit` with
    /// `gpg.format=ssh` checks them.
    ///
    /// Interim, until module SmartSyncSignatures (branch fleet-sig) is merged: `ssh-keygen -Y find-principals` and
    /// `-Y verify` do the checking (namespace `git`, `valid-after`/`valid-before` at the committer time), with the
    /// commit split as git splits it (``SignedCommit``). The merge replaces the body of this function by
    /// `CommitSignature.verify(commit:body:allowedSigners:)`; the rule and the messages stay.
    static func allowedSigners(file path: String) throws -> SignatureRequirement {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw SmartSyncError(
                .invalidArgument, "cannot read the allowed-signers file '\(path)' (--allowed-signers)",
                hint: "give a file in ssh-keygen's ALLOWED SIGNERS format")
        }
        let sshKeygen = ProcessRunner.find("ssh-keygen", searchPath: ChildEnvironment.current["PATH"] ?? "/usr/bin:/bin")
        return SignatureRequirement(source: path) { commit, body in
            guard let sshKeygen else {
                throw SmartSyncError(
                    .sourceUnavailable, "--require-signed-commits needs ssh-keygen, and none is on PATH",
                    hint: "install openssh-client")
            }
            return try SSHKeygenVerifier(executable: sshKeygen, allowedSigners: path).verify(commit, body)
        }
    }
}

/// `ssh-keygen -Y` over one commit: the interim verifier (see ``SignatureRequirement/allowedSigners(file:)``).
struct SSHKeygenVerifier {
    var executable: String
    var allowedSigners: String

    func verify(_ commit: ObjectID, _ body: [UInt8]) throws -> CommitSigner {
        let signed = try SignedCommit(commit, body)
        let directory = NSTemporaryDirectory() + "smart-sync-verify-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let signatureFile = directory + "/commit.sig"
        guard FileManager.default.createFile(atPath: signatureFile, contents: Data(signed.signature)) else {
            throw SmartSyncError.io("create", path: signatureFile)
        }
        let environment = ["PATH": "/usr/bin:/bin", "TZ": "UTC", "LC_ALL": "C"]
        let time = Self.verifyTime(signed.committerTime)
        let find = try ProcessRunner(
            executable, ["-Y", "find-principals", "-f", allowedSigners, "-s", signatureFile, time],
            environment: environment
        ).runAndWait()
        guard find.succeeded, let principal = find.output.split(separator: "\n").first.map(String.init) else {
            throw SmartSyncError(
                .integrity, "commit \(commit) is signed by a key that \(allowedSigners) does not list (or not for that time)",
                hint: "add the signer's key to \(allowedSigners), or sync a commit signed by a listed key")
        }
        let check = try ProcessRunner(
            executable,
            ["-Y", "verify", "-f", allowedSigners, "-I", principal, "-n", "git", "-s", signatureFile, time],
            environment: environment
        ).runAndWait(input: .bytes(signed.payload))
        guard check.succeeded else {
            throw SmartSyncError(
                .integrity, "the signature of commit \(commit) does not verify for \(principal) (\(check.errorOutput))",
                hint: "the commit or its signature was changed, or the key is outside its valid-after/valid-before")
        }
        // "Good "git" signature for PRINCIPAL with ED25519 key SHA256:…"
        let said = check.stdoutString + check.stderrString
        let fingerprint = said.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("SHA256:") }
        return CommitSigner(principal: principal, fingerprint: fingerprint.map(String.init) ?? "?")
    }

    /// `-Overify-time=YYYYMMDDHHMMSS` for a Unix time (the child runs with `TZ=UTC`).
    static func verifyTime(_ seconds: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss"
        return "-Overify-time=" + formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

/// A commit object split as git splits it for `verify-commit`: the `gpgsig` header's value (continuation lines
/// unindented) and the payload (the object without that header).
struct SignedCommit {
    var signature: [UInt8]
    var payload: [UInt8]
    var committerTime: Int

    init(_ commit: ObjectID, _ body: [UInt8]) throws {
        var payload: [UInt8] = []
        var signature: [UInt8] = []
        var inSignature = false
        var inHeaders = true
        var committerTime: Int?
        var start = 0
        while start < body.count {
            let end = body[start...].firstIndex(of: 0x0A).map { $0 + 1 } ?? body.count
            let line = body[start..<end]
            start = end
            if !inHeaders {
                payload += line
                continue
            }
            if line.first == 0x0A {
                inHeaders = false
                payload += line
                continue
            }
            if line.starts(with: Array("gpgsig ".utf8)) {
                inSignature = true
                signature += line.dropFirst("gpgsig ".count)
                continue
            }
            if inSignature && line.first == 0x20 {
                signature += line.dropFirst()
                continue
            }
            inSignature = false
            if line.starts(with: Array("committer ".utf8)) {
                let fields = String(decoding: line, as: UTF8.self).split(separator: " ")
                committerTime = fields.count >= 2 ? Int(fields[fields.count - 2]) : nil
            }
            payload += line
        }
        guard !signature.isEmpty else {
            throw SmartSyncError(
                .integrity, "commit \(commit) is not signed (it has no gpgsig header)",
                hint: "sign it with git commit -S (gpg.format=ssh) with a key listed in the allowed signers")
        }
        guard signature.starts(with: Array("-----BEGIN SSH SIGNATURE-----".utf8)) else {
            throw SmartSyncError(
                .integrity, "commit \(commit) carries an OpenPGP or X.509 signature; only SSH signatures are checked",
                hint: "sign with gpg.format=ssh")
        }
        self.signature = signature
        self.payload = payload
        self.committerTime = committerTime ?? 0
    }
}
