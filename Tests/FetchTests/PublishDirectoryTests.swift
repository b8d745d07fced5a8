import Foundation
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import TestSupport
import Testing

/// What someone who can write the mirror directory can do to a publish that runs as root: nothing outside it.
@Suite(.serialized)
struct PublishDirectoryTests {
    /// A published mirror, a directory outside it, and a new commit whose blob the next publish writes.
    struct Planted {
        let s: PublishTests.Setup
        var outside: String { s.dir.appending("outside") }
        let blob: String

        init() async throws {
            s = try PublishTests.Setup()
            try await s.publish(["main"])
            try TestFiles.makeDirectories(s.dir.appending("outside"))
            try s.demo.repo.write("cron.txt", "* * * * * root touch /tmp/pwned\n")
            _ = try s.demo.repo.commit("planted")
            blob = try s.demo.repo.revParse("main:cron.txt")
        }

        /// Publishes `main`, expecting `.unsafePath` naming `name`, and nothing written outside.
        func expectRefused(naming name: String) async throws {
            do {
                try await s.publish(["main"])
                Issue.record("a publish wrote through a symlink")
            } catch let error as SmartSyncError {
                #expect(error.code == .unsafePath, "\(error)")
                #expect(error.message.contains(s.mirror + "/" + name), "\(error.text)")
                #expect(error.hint?.contains("remove") == true, "\(error.text)")
            }
            #expect(TestFiles.allPaths(under: outside).filter { $0.contains(String(blob.dropFirst(2))) }.isEmpty)
            #expect(!TestFiles.exists(outside + "/" + String(blob.prefix(2))))
        }
    }

    @Test func aSymlinkedObjectsDirectoryIsRefused() async throws {
        let p = try await Planted()
        try FileManager.default.removeItem(atPath: p.s.mirror + "/objects")
        try TestFiles.symlink(p.s.mirror + "/objects", to: p.outside)
        try await p.expectRefused(naming: "objects")
    }

    @Test func aSymlinkedFanOutDirectoryIsRefused() async throws {
        let p = try await Planted()
        let fanOut = "objects/" + String(p.blob.prefix(2))
        try? FileManager.default.removeItem(atPath: p.s.mirror + "/" + fanOut)
        try TestFiles.symlink(p.s.mirror + "/" + fanOut, to: p.outside)
        try await p.expectRefused(naming: fanOut)
        #expect(TestFiles.allPaths(under: p.outside).isEmpty)
    }

    @Test func aFileWhereADirectoryBelongsAndASymlinkedRefsAreRefused() async throws {
        let p = try await Planted()
        try FileManager.default.removeItem(atPath: p.s.mirror + "/packs")
        try TestFiles.write(p.s.mirror + "/packs", "not a directory\n")
        try await p.expectRefused(naming: "packs")

        // refs pointing elsewhere: not read through (it could name any file root can read).
        try FileManager.default.removeItem(atPath: p.s.mirror + "/packs")
        try TestFiles.write(p.outside + "/refs", String(decoding: p.s.read("refs"), as: UTF8.self))
        try FileManager.default.removeItem(atPath: p.s.mirror + "/refs")
        try TestFiles.symlink(p.s.mirror + "/refs", to: p.outside + "/refs")
        try await p.expectRefused(naming: "refs")
    }

    @Test func aFailedPublishLeavesNoDirectoryItMade() async throws {
        let s = try PublishTests.Setup()
        await #expect(throws: SmartSyncError.self) { try await s.publish(["no-such-branch"]) }
        #expect(!TestFiles.exists(s.mirror))
        // A directory that was there stays.
        try TestFiles.makeDirectories(s.mirror)
        await #expect(throws: SmartSyncError.self) { try await s.publish(["no-such-branch"]) }
        #expect(TestFiles.exists(s.mirror))
    }

    @Test func aDamagedIdentityFileSaysWhatToDo() async throws {
        let s = try PublishTests.Setup()
        try TestFiles.write(s.mirror + "/smart-sync-mirror.json", "<html>\n")
        do {
            try await s.publish(["main"])
            Issue.record("a damaged smart-sync-mirror.json was taken")
        } catch let error as SmartSyncError {
            #expect(error.code == .malformedResponse)
            #expect(error.message.contains("smart-sync-mirror.json") && error.hint != nil, "\(error.text)")
        }
    }

    @Test func packsAreTheSameBytesFromTwoRepositories() async throws {
        // Two publishers of one commit (a clone each, packed differently) write the same pack bytes: nothing is
        // reused from either repository's packs, and one thread searches for deltas.
        let s = try PublishTests.Setup()
        var text = (0..<400).map { "line \($0) of a file with enough text to be worth a delta\n" }
        for n in 0..<24 {
            text[n * 7] = "changed in file \(n)\n"
            try s.demo.repo.write("similar/\(n).txt", text.joined())
        }
        let commit = try s.demo.repo.commit("similar files")
        try GitFixture.run(["-C", s.demo.repo.path, "repack", "-a", "-d", "-f", "--depth=50", "--window=250"])
        try await s.publish(["main"])
        let other = s.dir.appending("clone.git")
        try GitFixture.run(["clone", "-q", "--bare", "--no-local", s.demo.repo.path, other])
        try GitFixture.run(["-C", other, "repack", "-a", "-d", "-f", "--depth=1", "--window=2"])
        let mirror2 = s.dir.appending("mirror2")
        _ = try await MirrorPublisher(directory: mirror2, repositoryName: "x").publish(
            repository: other, options: .init(refs: ["main"]))
        let pack = "packs/\(commit).pack"
        #expect(TestFiles.readBytes(mirror2 + "/" + pack) == s.read(pack))
    }
}
