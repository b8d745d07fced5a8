import FoundationEssentials
import Glibc
import SmartSyncCore
import SmartSyncFileSystem

extension GitRemote {
    /// What a git call that reaches the remote reads beside the repository's config: a directory of its own (0700,
    /// `<store>/tmp/git-config-<pid>-<random>`) holding `config` (0600: the token's `http.<git-url>/.extraHeader`, and
    /// `http.sslCAInfo` with `--cacert`) and `ca.pem` (the system bundle plus `--cacert`'s certificates, written for
    /// this call so a changed `--cacert` or system bundle is read every time).
    ///
    /// git reads the file as its global config (`GIT_CONFIG_GLOBAL`), so the token is in no argument and no variable
    /// of git's environment (which `/proc/<pid>/environ` and a wrapper script would show). The directory is removed
    /// when the call ends, failed or not; one a killed process left is removed by the next call in that store.
    struct CallConfig {
        static let prefix = "git-config-"
        /// The directory.
        let directory: String
        var configPath: String { directory + "/config" }

        /// Writes the directory for `remote`'s call; nil when it has neither a token nor `--cacert`.
        static func make(for remote: GitRemote) throws -> CallConfig? {
            guard remote.token != nil || remote.extraCAFile != nil else { return nil }
            let root = remote.temporaryDirectory
            try FileSystem.makeDirectories(root)
            removeLeftovers(in: root)
            let directory = FileSystem.temporaryName(root + "/" + prefix + String(getpid()) + "-")
            guard mkdir(directory, 0o700) == 0 else { throw SmartSyncError.io("mkdir", path: directory) }
            let made = CallConfig(directory: directory)
            do {
                var config = ""
                if let token = remote.token {
                    config += "[http \(quoted(remote.gitURL + "/"))]\n"
                    config += "\textraHeader = \(quoted("Authorization: " + token.basicAuthorizationForGit))\n"
                }
                if let extra = remote.extraCAFile {
                    let bundle = directory + "/ca.pem"
                    try create(bundle, bytes: try caBundle(adding: extra))
                    config += "[http]\n\tsslCAInfo = \(quoted(bundle))\n"
                }
                try create(made.configPath, bytes: Array(config.utf8))
            } catch {
                made.remove()
                throw error
            }
            return made
        }

        /// Removes the directory and what it holds.
        func remove() {
            for name in ["config", "ca.pem"] { unlink(directory + "/" + name) }
            rmdir(directory)
        }

        /// `text` as a git config string: in double quotes, `"` and `\` escaped (no newline can reach here).
        static func quoted(_ text: String) -> String {
            "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
        }

        /// A new file (`O_EXCL | O_NOFOLLOW`, 0600) holding `bytes`.
        private static func create(_ path: String, bytes: [UInt8]) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
            defer { close(fd) }
            try bytes.withUnsafeBytes { try FileSystem.writeAll(fd: fd, $0, path: path) }
        }

        /// The system bundle plus the certificates in `extraCAFile` (git's `http.sslCAInfo` replaces the system
        /// trust; `--cacert` adds to it).
        private static func caBundle(adding extraCAFile: String) throws -> [UInt8] {
            guard let extra = FileManager.default.contents(atPath: extraCAFile) else {
                throw SmartSyncError(
                    .invalidArgument, "cannot read the CA certificate file '\(extraCAFile)' given with --cacert",
                    hint: "give a readable PEM file")
            }
            let systemCandidates = [
                "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem",
            ]
            var pem = systemCandidates.lazy.compactMap { FileManager.default.contents(atPath: $0) }.first ?? Data()
            pem.append(Data("\n".utf8))
            pem.append(extra)
            return Array(pem)
        }

        /// Removes the directories of processes that no longer run (killed mid-call).
        private static func removeLeftovers(in root: String) {
            for name in (try? FileSystem.names(in: root)) ?? [] where name.hasPrefix(prefix) {
                let pid = name.dropFirst(prefix.count).split(separator: "-").first.flatMap { pid_t($0) }
                guard let pid, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
                CallConfig(directory: root + "/" + name).remove()
            }
        }
    }
}
