import Foundation
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import TestSupport
import Testing

/// `MirrorPublisher` against real git: docs/MIRROR.md's layout byte for byte, incremental publishes, signatures,
/// and what it refuses.
@Suite(.serialized)
struct PublishTests {
    /// A fixture repository and an empty place for the mirror.
    struct Setup {
        let demo: Demo
        let dir: TemporaryDirectory
        var mirror: String { dir.appending("mirror") }

        init() throws {
            demo = try Demo(bare: true)
            dir = try TemporaryDirectory(prefix: "publish")
        }

        @discardableResult
        func publish(
            _ refs: [String], name: String? = nil, configure: (inout MirrorPublisher.Options) -> Void = { _ in }
        )
            async throws -> MirrorPublisher.Report
        {
            var options = MirrorPublisher.Options(refs: refs)
            configure(&options)
            return try await MirrorPublisher(directory: mirror, repositoryName: name)
                .publish(repository: demo.repo.path, options: options)
        }

        func read(_ relative: String) -> [UInt8] { TestFiles.readBytes(mirror + "/" + relative) ?? [] }

        /// The files of the mirror (relative paths, directories left out).
        func files() -> [String] {
            TestFiles.allPaths(under: mirror).filter {
                (TestFiles.lstat(mirror + "/" + $0)!.st_mode & S_IFMT) == S_IFREG
            }
        }

        /// Relative path → (inode, mtime ns) of every file.
        func stamps() -> [String: [Int64]] {
            Dictionary(
                uniqueKeysWithValues: files().map { path in
                    let st = TestFiles.lstat(mirror + "/" + path)!
                    return (
                        path, [Int64(st.st_ino), Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)]
                    )
                })
        }

        /// The `refs` file as JSON.
        func refs() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(read("refs"))) as? [String: Any])
        }

        /// Ids of the files under `commits/` or `objects/`.
        func ids(under folder: String) -> Set<String> {
            Set(
                files().filter { $0.hasPrefix(folder + "/") }.map {
                    String($0.dropFirst(folder.count + 1).filter { $0 != "/" })
                })
        }
    }

    static func split(_ hex: String) -> String { String(hex.prefix(2)) + "/" + String(hex.dropFirst(2)) }

    @Test func writesTheLayoutByteForByte() async throws {
        let s = try Setup()
        let repo = s.demo.repo
        let report = try await s.publish(["main", "v1.0"])
        let path = URL(fileURLWithPath: repo.path).standardizedFileURL.path
        #expect(
            String(decoding: s.read("smart-sync-mirror.json"), as: UTF8.self)
                == "{\"format\":\"smart-sync-mirror\",\"version\":1,\"repository\":\"\(path)\"}\n")

        // refs: one JSON line, the fields of the spec, tags peeled, head the first ref.
        let refsBytes = s.read("refs")
        #expect(refsBytes.last == UInt8(ascii: "\n") && refsBytes.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        let refs = try s.refs()
        #expect(refs["format"] as? String == "smart-sync-refs")
        #expect(refs["version"] as? Int == 1)
        #expect(refs["repository"] as? String == path)
        #expect(refs["head"] as? String == "main")
        #expect(refs["refs"] as? [String: String] == ["main": s.demo.second, "v1.0": s.demo.first])
        let now = Int(Date().timeIntervalSince1970)
        let published = try #require(refs["published"] as? Int)
        let expires = try #require(refs["expires"] as? Int)
        #expect(abs(published - now) < 60)
        #expect(abs(expires - (now + 7 * 86400)) < 60)
        #expect(try PublishedRefs(parsing: refsBytes, source: "refs") == report.pointer)
        #expect(String(decoding: refsBytes, as: UTF8.self).hasPrefix("{\"format\":\"smart-sync-refs\",\"version\":1,"))

        // Each commit file hashes to its name; the history of both refs is there.
        #expect(s.ids(under: "commits") == [s.demo.first, s.demo.second])
        for id in s.ids(under: "commits") {
            #expect(ObjectID.hash(.commit, s.read("commits/" + Self.split(id))).hex == id)
        }
        // Listings: exactly what git ls-tree prints for each root tree.
        var blobs = Set<String>()
        for commit in [s.demo.first, s.demo.second] {
            let tree = try repo.revParse(commit + "^{tree}")
            let listing = try repo.gitResult(["ls-tree", "-r", "-t", "-l", "-z", "--full-tree", tree]).stdout
            #expect(s.read("listings/" + Self.split(tree)) == listing)
            let objects = try repo.git("ls-tree", "-r", "--full-tree", "--object-only", commit)
            blobs.formUnion(objects.split(separator: "\n").map(String.init))
        }
        // Objects: every blob of both commits, each hashing to its name.
        #expect(s.ids(under: "objects") == blobs)
        for id in blobs { #expect(ObjectID.hash(.blob, s.read("objects/" + Self.split(id))).hex == id) }
        #expect(report.commitsWritten == 2 && report.objectsWritten == blobs.count && report.listingsWritten == 2)

        // Packs: each indexes on its own (not thin) and holds exactly the commit, its trees and its blobs.
        for commit in [s.demo.first, s.demo.second] {
            let want = Set(try repo.git("rev-list", "--objects", "--no-walk", commit).split(separator: "\n")
                .map { String($0.prefix(40)) })
            #expect(try Self.packObjects(s.mirror + "/packs/\(commit).pack", in: s.dir) == want)
        }
        #expect(report.packsWritten == 2)
        #expect(!s.files().contains { $0.contains(".smart-sync-tmp-") })
    }

    /// The ids `git index-pack` finds in `pack` (checked by index-pack: a thin pack fails).
    static func packObjects(_ pack: String, in dir: TemporaryDirectory) throws -> Set<String> {
        let scratch = dir.appending("index-" + String(UInt32.random(in: 0...UInt32.max)))
        try GitFixture.run(["init", "-q", "--bare", scratch])
        try FileManager.default.copyItem(atPath: pack, toPath: scratch + "/objects/pack/test.pack")
        try GitFixture.run(["-C", scratch, "index-pack", "objects/pack/test.pack"])
        let listed = try GitFixture.run(
            ["-C", scratch, "show-index"], input: TestFiles.readBytes(scratch + "/objects/pack/test.idx"))
        return Set(listed.stdoutString.split(separator: "\n").map { String($0.split(separator: " ")[1]) })
    }

    @Test func aSecondPublishAddsOnlyWhatIsNew() async throws {
        let s = try Setup()
        let repo = s.demo.repo
        try await s.publish(["main"])
        let before = s.stamps()
        let firstRefs = try s.refs()
        try await Task.sleep(for: .milliseconds(20))
        // Nothing new: only refs is rewritten.
        let again = try await s.publish(["main"])
        #expect(again.commitsWritten == 0 && again.objectsWritten == 0 && again.listingsWritten == 0)
        #expect(again.packsWritten == 0)
        #expect(s.stamps().filter { $0.key != "refs" } == before.filter { $0.key != "refs" })

        try repo.write("README.md", "# demo, third\n")
        try repo.write("new/file.txt", "new\n")
        let third = try repo.commit("third")
        let report = try await s.publish(["main"])
        let after = s.stamps()
        for (path, stamp) in before where path != "refs" { #expect(after[path] == stamp, "\(path) was rewritten") }
        let tree = try repo.revParse(third + "^{tree}")
        let newBlobs = [try repo.revParse(third + ":README.md"), try repo.revParse(third + ":new/file.txt")]
        let added = Set(after.keys).subtracting(before.keys)
        #expect(
            added
                == Set(
                    ["commits/" + Self.split(third), "listings/" + Self.split(tree), "packs/\(third).pack"]
                        + newBlobs.map { "objects/" + Self.split($0) }))
        #expect(report.commitsWritten == 1 && report.objectsWritten == 2 && report.packsWritten == 1)
        let refs = try s.refs()
        #expect(refs["refs"] as? [String: String] == ["main": third])
        #expect((refs["published"] as! Int) >= (firstRefs["published"] as! Int))
    }

    @Test func historyGoesBackToThePreviousPointerAndNoFurtherThanAsked() async throws {
        let s = try Setup()
        let repo = s.demo.repo
        var commits = [s.demo.first, s.demo.second]
        for n in 0..<3 {
            try repo.write("n.txt", "\(n)\n")
            commits.append(try repo.commit("n\(n)"))
        }
        try await s.publish(["main"]) { $0.history = 2 }
        #expect(s.ids(under: "commits") == Set(commits.suffix(2)))
        for n in 3..<6 {
            try repo.write("n.txt", "\(n)\n")
            commits.append(try repo.commit("n\(n)"))
        }
        let report = try await s.publish(["main"])
        // Back to the commit the previous pointer named, not to the root.
        #expect(report.commitsWritten == 3)
        #expect(s.ids(under: "commits") == Set(commits.suffix(5)))
    }

    @Test func publishedNeverGoesBackAndExpiresInIsKept() async throws {
        let s = try Setup()
        try await s.publish(["main"])
        // A pointer from a clock ahead of ours.
        var future = try PublishedRefs(parsing: s.read("refs"), source: "refs")
        future.published += 10_000
        try TestFiles.write(s.mirror + "/refs", bytes: future.encoded())
        let report = try await s.publish(["main"]) { $0.expiresIn = 3600 }
        #expect(report.pointer.published == future.published)
        #expect(abs(report.pointer.expires - (Int64(Date().timeIntervalSince1970) + 3600)) < 60)
    }

    @Test func aSignedPointerVerifiesWithSSHKeygen() async throws {
        let s = try Setup()
        let key = s.dir.appending("id_ed25519")
        try ProcessRunner.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "publisher", "-f", key])
        let report = try await s.publish(["main"]) { $0.signingKey = key }
        #expect(report.signed)
        let allowed = s.dir.appending("allowed_signers")
        try TestFiles.write(allowed, "publisher namespaces=\"smart-sync\" " + (TestFiles.read(key + ".pub") ?? ""))
        let verify = { (namespace: String) in
            try ProcessRunner.run(
                "ssh-keygen",
                ["-Y", "verify", "-f", allowed, "-I", "publisher", "-n", namespace, "-s", s.mirror + "/refs.sig"],
                input: s.read("refs"), check: false)
        }
        let good = try verify("smart-sync")
        #expect(good.status == 0, "\(good.stderrString)")
        #expect(try verify("git").status != 0)
        // An unsigned publish removes the signature of the old pointer.
        try await s.publish(["main"])
        #expect(!TestFiles.exists(s.mirror + "/refs.sig"))
        // A key ssh-keygen cannot use: a clear error, and the pointer as it was.
        let refs = s.read("refs")
        try TestFiles.write(s.dir.appending("bad"), "not a key\n", mode: 0o600)
        await #expect(throws: SmartSyncError.self) {
            try await s.publish(["main"]) { $0.signingKey = s.dir.appending("bad") }
        }
        #expect(s.read("refs") == refs)
    }

    @Test func aRefThatDoesNotResolveIsRefusedByName() async throws {
        let s = try Setup()
        do {
            try await s.publish(["main", "no-such-branch"])
            Issue.record("a missing ref was published")
        } catch let error as SmartSyncError {
            #expect(error.code == .notFound)
            #expect(error.message.contains("'no-such-branch'"), "\(error)")
        }
        #expect(!TestFiles.exists(s.mirror + "/refs"))
        for bad in ["-x", "main~1", "a..b"] {
            await #expect(throws: SmartSyncError.self) { try await s.publish([bad]) }
        }
    }

    @Test func aDirectoryOfAnotherRepositoryIsRefused() async throws {
        let s = try Setup()
        try await s.publish(["main"], name: "acme/one")
        do {
            try await s.publish(["main"], name: "acme/two")
            Issue.record("a mirror of acme/one took acme/two")
        } catch let error as SmartSyncError {
            #expect(error.code == .conflict)
            #expect(error.message.contains("'acme/one'") && error.message.contains("'acme/two'"), "\(error)")
        }
        // A directory with other files in it is no mirror to write into.
        let other = s.dir.appending("www")
        try TestFiles.write(other + "/index.html", "hello\n")
        do {
            _ = try await MirrorPublisher(directory: other).publish(
                repository: s.demo.repo.path, options: .init(refs: ["main"]))
            Issue.record("a non-empty directory became a mirror")
        } catch let error as SmartSyncError {
            #expect(error.code == .conflict)
            #expect(error.message.contains("index.html"), "\(error)")
        }
        #expect(TestFiles.allPaths(under: other) == ["index.html"])
    }

    @Test func withoutPacksNoPackIsWritten() async throws {
        let s = try Setup()
        try await s.publish(["main"]) { $0.packs = false }
        #expect(!s.files().contains { $0.hasPrefix("packs/") })
        #expect(s.files().contains("refs"))
    }
}
