import Foundation
import TestSupport
import Testing

/// Raw files behind real nginx with a self-signed certificate and HTTP/2, on loopback.
@Suite("TLS and HTTP/2 raw host (nginx)", .serialized)
struct TLSEndToEndTests {
    /// Lays out `{root}/{owner}/{repo}/{commit}/{path}` from `git archive`, as raw.githubusercontent.com serves it.
    /// Symlinks become files holding their target text, as GitHub's raw host serves them.
    private func publish(_ s: Scenario, commit: String, into root: String) throws {
        let dir = root + "/acme/hyper/" + commit
        try s.repo.archive(commit: commit, into: dir)
        let fm = FileManager.default
        for path in try fm.subpathsOfDirectory(atPath: dir) {
            let full = dir + "/" + path
            guard let target = try? fm.destinationOfSymbolicLink(atPath: full) else { continue }
            try fm.removeItem(atPath: full)
            try Data(target.utf8).write(to: URL(fileURLWithPath: full))
        }
    }

    @Test func syncNeedsCacertAndMultiplexesOneConnection() throws {
        try #require(NginxServer.isAvailable, "nginx is required (apt-get install nginx-light; .ci/run installs it)")
        let s = try Scenario()
        // Many files, so multiplexing has something to show.
        for i in 0..<40 { try s.repo.write("many/file-\(i).txt", "file \(i)\n") }
        let a = try Fixtures.commitA(s.repo)
        let nginx = try NginxServer()
        defer { nginx.stop() }
        try publish(s, commit: a, into: nginx.root)

        // Without the CA: a TLS error that says what to do, and the target untouched.
        let refused = try s.run("sync", rawURL: nginx.baseURL)
        #expect(refused.status == 5, "exit \(refused.status): \(refused.stderrString)")
        #expect(refused.stderrString.lowercased().contains("certificate"))
        #expect(refused.stderrString.contains("--cacert"))
        #expect(!FileManager.default.fileExists(atPath: s.target + "/flake.nix"))

        // With it: the sync succeeds over HTTP/2, all blobs on one connection.
        let ok = try s.run("sync", ["--cacert", nginx.certificatePath, "--json"], rawURL: nginx.baseURL)
        #expect(ok.status == 0, "exit \(ok.status): \(ok.stderrString)")
        try s.expectTargetEqualsArchive(a)
        let lines = nginx.accessLogLines().filter { $0.hasPrefix("GET /acme/hyper/") && $0.contains(" 200 ") }
        #expect(lines.count >= 50)
        #expect(lines.allSatisfy { $0.hasSuffix("HTTP/2.0") }, "not HTTP/2: \(lines.prefix(2))")
        let connections = Set(lines.map { $0.split(separator: " ").dropLast(2).last.map(String.init) ?? "" })
        #expect(connections.count == 1, "raw requests used \(connections.count) connections")
    }

    /// Where libcurl's default directory stands in for its default bundle, the bundle is off: the handshake is
    /// verified against the directory alone. Proved with a bundle that trusts the server: libcurl's own defaults
    /// (`/etc/ssl/certs` and its `ca-certificates.crt`) are replaced, in a mount namespace of the run's own, by a
    /// directory whose bundle holds nginx's certificate. With no hash entry beside it the bundle is used and the sync
    /// succeeds; with one entry (another root, as many as the bundle has) the directory is used and the same sync
    /// fails its handshake, which it would not if the bundle were still read.
    @Test func theBundleIsOffWhereTheHashedDirectoryIsUsed() throws {
        try #require(NginxServer.isAvailable, "nginx is required (apt-get install nginx-light; .ci/run installs it)")
        let system = "/etc/ssl/certs"
        let otherRoot = try #require(
            try FileManager.default.contentsOfDirectory(atPath: system).sorted().first {
                $0.hasSuffix(".pem") && !$0.hasPrefix("ca-")
            }, "a system root to stand for the directory's one entry")
        try #require(
            (try? ProcessRunner.run("/usr/bin/unshare", ["-m", "true"], check: false))?.status == 0,
            "a mount namespace is required (root)")
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        let nginx = try NginxServer()
        defer { nginx.stop() }
        try publish(s, commit: a, into: nginx.root)

        /// A sync run with `certs` mounted over libcurl's default directory (and so its default bundle).
        func sync(certs: String) throws -> ProcessResult {
            let mount = "mount --bind \"$1\" \(system) && shift && exec \"$@\""
            return try ProcessRunner.run(
                "/usr/bin/unshare",
                ["-m", "--propagation", "private", "/bin/sh", "-c", mount, "sh", certs, try SmartSyncBinary.path()]
                    + s.arguments("sync", [], rawURL: nginx.baseURL),
                environment: s.environment(), check: false)
        }
        func certs(_ name: String, hashEntry: String?) throws -> String {
            let dir = s.dirs.appending(name)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: nginx.certificatePath, toPath: dir + "/ca-certificates.crt")
            if let hashEntry {
                let hash = try ProcessRunner.run("/usr/bin/openssl", ["x509", "-hash", "-noout", "-in", hashEntry])
                    .stdoutString.trimmingCharacters(in: .whitespacesAndNewlines)
                let root = try Data(contentsOf: URL(fileURLWithPath: hashEntry))
                try root.write(to: URL(fileURLWithPath: dir + "/" + hash + ".0"))
            }
            return dir
        }

        let bundleOnly = try sync(certs: try certs("bundle-only", hashEntry: nil))
        #expect(bundleOnly.status == 0, "exit \(bundleOnly.status): \(bundleOnly.stderrString)")
        try s.expectTargetEqualsArchive(a)
        // Nothing of that run left to use: the next one needs the raw host, so it must shake hands.
        for made in [s.target, s.store, s.stateDir] { try FileManager.default.removeItem(atPath: made) }

        let withDirectory = try sync(certs: try certs("directory", hashEntry: system + "/" + otherRoot))
        #expect(withDirectory.status == 5, "exit \(withDirectory.status): \(withDirectory.stderrString)")
        #expect(withDirectory.stderrString.lowercased().contains("certificate"), "\(withDirectory.stderrString)")
        #expect(!FileManager.default.fileExists(atPath: s.target + "/flake.nix"))
    }
}
