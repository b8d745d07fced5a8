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
}
