import Foundation
import TestSupport
import Testing

/// docs/MIRROR.md's rsync upload recipe, run as written (a local directory for `host:/srv/mirror/hv/`): no publish
/// temporaries uploaded, `refs.sig` copied when there is one and deleted remotely when there is none.
@Suite("the rsync upload recipe", .serialized)
struct MirrorUploadRecipeTests {
    /// The recipe of docs/MIRROR.md with `DIR` and the destination filled in.
    static func recipe(_ dir: String, _ destination: String) -> String {
        """
        flock \(dir) sh -c '
          rsync -a --exclude "/.smart-sync-tmp-*" --exclude /refs --exclude /refs.sig \(dir)/ \(destination)/ &&
          rsync -a --checksum --delete-after --include /refs --include /refs.sig --exclude "*" \(dir)/ \(destination)/'
        """
    }

    @Test func uploadsThePointerLastAndNeverATemporaryOrAStaleSignature() throws {
        let rsync = ProcessRunner.find("rsync", searchPath: "/usr/local/bin:/usr/bin:/bin")
        try #require(rsync != nil, "rsync is required (apt-get install rsync)")
        let docs = try #require(TestFiles.read(SmartSyncBinary.packageRoot + "/docs/MIRROR.md"))
        #expect(docs.contains(Self.recipe("DIR", "host:/srv/mirror/hv")), "the recipe in docs/MIRROR.md changed")

        let repo = try GitFixture()
        try repo.write("a.txt", "a\n")
        _ = try repo.commit("a")
        let dirs = try TemporaryDirectory(prefix: "upload-recipe")
        let (mirror, remote) = (dirs.appending("mirror"), dirs.appending("remote"))
        try TestFiles.makeDirectories(remote)
        let key = dirs.appending("id_ed25519")
        try ProcessRunner.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])
        let env: [String: String?] = ["GH_TOKEN": nil, "NO_COLOR": "1"]
        let publish = { (extra: [String]) in
            let r = try SmartSyncBinary.run(
                ["publish", "--source", repo.path, "--ref", "main", "--to", mirror] + extra, environment: env,
                check: false)
            #expect(r.status == 0, "\(r.stderrString)")
        }
        let upload = {
            let r = try ProcessRunner.run("/bin/sh", ["-c", Self.recipe(mirror, remote)], check: false)
            #expect(r.status == 0, "\(r.stderrString)")
        }

        // Signed, with a publish's temporary in the directory: refs and refs.sig arrive, the temporary does not.
        try publish(["--sign-key", key])
        try TestFiles.write(mirror + "/.smart-sync-tmp-123-abc", "half a file")
        try upload()
        #expect(TestFiles.readBytes(remote + "/refs") == TestFiles.readBytes(mirror + "/refs"))
        #expect(TestFiles.readBytes(remote + "/refs.sig") == TestFiles.readBytes(mirror + "/refs.sig"))
        #expect(TestFiles.exists(remote + "/smart-sync-mirror.json") && TestFiles.exists(remote + "/objects"))
        #expect(!TestFiles.allPaths(under: remote).contains { $0.contains(".smart-sync-tmp-") })

        // Unsigned: the remote refs.sig (which signs the old refs) is deleted, nothing else is.
        try repo.write("b.txt", "b\n")
        _ = try repo.commit("b")
        try publish([])
        let before = Set(TestFiles.allPaths(under: remote))
        try upload()
        #expect(TestFiles.readBytes(remote + "/refs") == TestFiles.readBytes(mirror + "/refs"))
        #expect(!TestFiles.exists(remote + "/refs.sig"))
        #expect(before.subtracting(TestFiles.allPaths(under: remote)) == ["refs.sig"])
        // And again with no refs.sig on either side: not an error.
        try upload()
    }
}
