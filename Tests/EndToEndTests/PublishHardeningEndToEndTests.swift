import Foundation
import TestSupport
import Testing

/// `smart-sync publish` against what a writer of the mirror directory or a bad flag could do: the signature made
/// without a file, `--cacert` read every run, options of seconds checked.
@Suite("publish hardening", .serialized)
struct PublishHardeningEndToEndTests {
    static let token = "ghp_PUBLISHHARDENINGTOKEN"
    static let path = "/usr/local/bin:/usr/bin:/bin"

    /// A directory `bin` with `name` as a shell script in front of the real one (`$REAL`).
    static func wrap(_ name: String, in bin: String, _ script: String) throws {
        let real = try #require(ProcessRunner.find(name, searchPath: path))
        try TestFiles.write(bin + "/" + name, "#!/bin/sh\nREAL=\(real)\n" + script, mode: 0o755)
    }

    @Test func theSignatureIsMadeFromStdinWithNoFileInTheMirror() throws {
        let repo = try GitFixture()
        try repo.write("a.txt", "a\n")
        _ = try repo.commit("a")
        let dirs = try TemporaryDirectory(prefix: "publish-sign")
        let key = dirs.appending("id_ed25519")
        try ProcessRunner.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "publisher", "-f", key])
        let bin = dirs.appending("bin")
        let log = dirs.appending("ssh-keygen.log")
        try Self.wrap("ssh-keygen", in: bin, "echo \"$*\" >> \(log)\nexec $REAL \"$@\"\n")
        let mirror = dirs.appending("mirror")
        let r = try SmartSyncBinary.run(
            ["publish", "--source", repo.path, "--ref", "main", "--to", mirror, "--sign-key", key],
            environment: ["GH_TOKEN": nil, "NO_COLOR": "1", "PATH": bin + ":" + Self.path], check: false)
        #expect(r.status == 0, "\(r.stderrString)")
        let calls = TestFiles.read(log) ?? ""
        #expect(calls.contains("-Y sign"), "ssh-keygen was not run through the wrapper")
        // ssh-keygen was given no file to sign (it would write FILE.sig beside it, following symlinks).
        #expect(!calls.contains(mirror), "\(calls)")
        #expect(TestFiles.allPaths(under: mirror).filter { !$0.contains("/") }.sorted() == [
            "commits", "listings", "objects", "packs", "refs", "refs.sig", "smart-sync-mirror.json",
        ])
        let allowed = dirs.appending("allowed_signers")
        try TestFiles.write(allowed, "publisher " + (TestFiles.read(key + ".pub") ?? ""))
        let verify = try ProcessRunner.run(
            "ssh-keygen",
            ["-Y", "verify", "-f", allowed, "-I", "publisher", "-n", "smart-sync", "-s", mirror + "/refs.sig"],
            input: TestFiles.readBytes(mirror + "/refs"), check: false)
        #expect(verify.status == 0, "\(verify.stderrString)")
    }

    @Test func aChangedCacertIsReadByTheNextPublish() throws {
        let s = try Scenario(token: Self.token, privateRepo: true)
        _ = try Fixtures.commitA(s.repo)
        let bin = s.dirs.appending("bin")
        let log = s.dirs.appending("ca.log")
        // Logs the end of the CA file git is told to use, however it is told (an argument or a config file).
        try Self.wrap(
            "git", in: bin,
            """
            ca=$(printf '%s\\n' "$@" | sed -n 's/^http.sslCAInfo=//p')
            if [ -z "$ca" ] && [ -f "$GIT_CONFIG_GLOBAL" ]; then
              ca=$($REAL config --file "$GIT_CONFIG_GLOBAL" http.sslCAInfo)
            fi
            if [ -n "$ca" ]; then tail -n 1 "$ca" >> \(log); fi
            exec $REAL "$@"

            """)
        let cacert = s.dirs.appending("extra.pem")
        let args = [
            "publish", s.slug, "--ref", "main", "--to", s.dirs.appending("mirror"), "--api-url", s.server.apiURL,
            "--git-url", s.server.gitURL, "--store", s.store, "--cacert", cacert,
        ]
        let env = s.environment(token: Self.token).merging(["PATH": bin + ":" + Self.path]) { $1 }
        for marker in ["FIRST-CA-MARKER", "SECOND-CA-MARKER"] {
            try TestFiles.write(cacert, "# \(marker)\n")
            let r = try SmartSyncBinary.run(args, environment: env, check: false)
            #expect(r.status == 0, "\(r.stderrString)")
            let last = (TestFiles.read(log) ?? "").split(separator: "\n").last.map(String.init)
            #expect(last == "# \(marker)", "git read \(last ?? "no CA file")")
        }
    }

    @Test func optionsOfSecondsMustBeFinitePositiveNumbers() throws {
        let repo = try GitFixture()
        try repo.write("a.txt", "a\n")
        _ = try repo.commit("a")
        let dirs = try TemporaryDirectory(prefix: "publish-flags")
        let env: [String: String?] = ["GH_TOKEN": nil, "NO_COLOR": "1"]
        for value in ["nan", "inf", "-5", "0"] {
            let r = try SmartSyncBinary.run(
                ["publish", "--source", repo.path, "--ref", "main", "--to", dirs.appending("m"),
                 "--stall-timeout=\(value)"],
                environment: env, check: false)
            #expect(r.status == 64, "--stall-timeout \(value): exit \(r.status) \(r.stderrString)")
            #expect(r.stderrString.contains("--stall-timeout"), "\(r.stderrString)")
        }
        #expect(!TestFiles.exists(dirs.appending("m")))
        // sync's shared rule refuses inf too.
        for flag in ["--stall-timeout", "--request-timeout", "--max-wait"] {
            let r = try SmartSyncBinary.run(
                ["sync", "--source", repo.path, "--target", dirs.appending("t"), "\(flag)=inf"], environment: env,
                check: false)
            #expect(r.status == 64, "\(flag) inf: exit \(r.status) \(r.stderrString)")
            #expect(r.stderrString.contains(flag), "\(r.stderrString)")
        }
    }
}
