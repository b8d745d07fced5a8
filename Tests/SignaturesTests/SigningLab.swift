import Foundation
import TestSupport

/// Fresh SSH keys in a temporary directory, and the real ssh-keygen to sign with and to compare verdicts with.
final class SigningLab {
    let directory: TemporaryDirectory
    private var counter = 0

    init() throws { directory = try TemporaryDirectory(prefix: "signatures") }

    /// ssh-keygen with no user config in the way; TZ fixed so local times mean the same to it and to us.
    static let environment: [String: String?] = ["TZ": "UTC", "LC_ALL": "C"]

    /// Generates a key (`ssh-keygen -t type`) and returns its private key path (`path.pub` holds the public key).
    func makeKey(_ name: String, type: String, bits: Int? = nil) throws -> String {
        let path = directory[name]
        var arguments = ["-q", "-t", type, "-N", "", "-C", "\(name)@lab", "-f", path]
        if let bits { arguments += ["-b", String(bits)] }
        try ProcessRunner.run("ssh-keygen", arguments, environment: Self.environment)
        return path
    }

    /// The `type base64 comment` line of a key's `.pub` file.
    func publicKey(_ privateKey: String) throws -> String {
        try String(contentsOfFile: privateKey + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `ssh-keygen -Y sign`: the armored signature of `message` by `key` in `namespace`.
    func sign(_ message: [UInt8], key: String, namespace: String, hash: String? = nil) throws -> [UInt8] {
        var arguments = ["-Y", "sign", "-q", "-f", key, "-n", namespace]
        if let hash { arguments += ["-O", "hashalg=\(hash)"] }
        return try ProcessRunner.run("ssh-keygen", arguments, environment: Self.environment, input: message).stdout
    }

    /// Writes `contents` to a new file in the lab and returns its path.
    func write(_ contents: [UInt8], name: String) throws -> String {
        counter += 1
        let path = directory["\(counter)-\(name)"]
        try TestFiles.write(path, bytes: contents)
        return path
    }

    /// `ssh-keygen -Y verify`'s verdict (exit status 0) for `principal` at `time` (`-Overify-time`).
    func sshKeygenVerifies(
        _ message: [UInt8], signature: [UInt8], allowedSigners: String, principal: String, namespace: String,
        time: String
    ) throws -> Bool {
        let sigFile = try write(signature, name: "message.sig")
        let result = try ProcessRunner.run(
            "ssh-keygen",
            [
                "-Y", "verify", "-f", allowedSigners, "-I", principal, "-n", namespace, "-s", sigFile,
                "-Overify-time=\(time)",
            ],
            environment: Self.environment, input: message, check: false)
        return result.succeeded
    }

    /// `ssh-keygen -Y find-principals`: the principals it prints, or nil when it fails.
    func sshKeygenFindPrincipals(signature: [UInt8], allowedSigners: String, time: String) throws -> [String]? {
        let sigFile = try write(signature, name: "message.sig")
        let result = try ProcessRunner.run(
            "ssh-keygen",
            ["-Y", "find-principals", "-f", allowedSigners, "-s", sigFile, "-Overify-time=\(time)"],
            environment: Self.environment, check: false)
        guard result.succeeded else { return nil }
        return result.stdoutString.split(separator: "\n").map(String.init)
    }
}
