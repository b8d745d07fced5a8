import Foundation
import TestSupport
import Testing

/// A switch is invisible to everything in the target that is not the tree's content: directories keep their owner,
/// group, mode, ACLs and extended attributes, and names are bytes (not UTF-8, or Unicode normalisation twins) through
/// every sync, rollback and restore, on every transport.
@Suite("target fidelity: directory metadata, names as bytes", .serialized)
struct FidelityEndToEndTests {
    // MARK: - Helpers (names as bytes, directory metadata as the system tools show it)

    func run(_ tool: String, _ args: [String]) throws -> String {
        let r = try ProcessRunner.run(tool, args, check: false)
        try #require(r.status == 0, "\(tool) \(args): \(r.stderrString)")
        return r.stdoutString
    }

    /// Writes `content` at `name` (bytes) in `dir`.
    private func write(_ dir: String, _ name: [UInt8], _ content: String) throws {
        let dirFD = open(dir, O_RDONLY | O_DIRECTORY)
        try #require(dirFD >= 0)
        defer { close(dirFD) }
        let fd = (name + [0]).withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { openat(dirFD, $0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        }
        try #require(fd >= 0, "create \(name) in \(dir): errno \(errno)")
        _ = content.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }

    /// Removes `name` (bytes) from `dir`.
    private func remove(_ dir: String, _ name: [UInt8]) throws {
        let dirFD = open(dir, O_RDONLY | O_DIRECTORY)
        try #require(dirFD >= 0)
        defer { close(dirFD) }
        let removed = (name + [0]).withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { unlinkat(dirFD, $0.baseAddress!, 0) }
        }
        try #require(removed == 0)
    }

    /// The content of `name` (bytes) in `dir`, or nil when there is no such file.
    func read(_ dir: String, _ name: [UInt8]) -> String? {
        let dirFD = open(dir, O_RDONLY | O_DIRECTORY)
        guard dirFD >= 0 else { return nil }
        defer { close(dirFD) }
        let fd = (name + [0]).withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { openat(dirFD, $0.baseAddress!, O_RDONLY | O_NOFOLLOW) }
        }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = Glibc.read(fd, &buffer, buffer.count)
        return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
    }

    private let latin1: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)
    private let nfc = Array("caf\u{E9}.nix".utf8)
    private let nfd = Array("cafe\u{301}.nix".utf8)

    /// Mode, owner, group, ACL and extended attributes of a directory, as `stat`, `getfacl` and `getfattr` print them.
    private func metadata(_ path: String) throws -> String {
        let stat = try run("/usr/bin/stat", ["-c", "%a %u %g", path])
        let acl = try run("/usr/bin/getfacl", ["-p", "-c", path])
        let xattrs = try run("/usr/bin/getfattr", ["-d", "-m", "-", "-h", "--absolute-names", path])
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        return stat + acl + xattrs
    }

    private func rollback(_ s: Scenario, to commit: String) throws {
        let r = try SmartSyncBinary.run(
            ["rollback", "--target", s.target, "--state-dir", s.stateDir, "--store", s.store, "--to", commit],
            environment: s.environment(), check: false)
        try #require(r.status == 0, "rollback: \(r.stderrString)")
    }

    // MARK: - Directory metadata

    @Test func directoriesKeepOwnerModeACLsAndAttributesThroughSyncAndRollback() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        let t = s.target
        // Tree directories, an operator's directory, and the target root, each with something of the operator's.
        try FileManager.default.createDirectory(atPath: t + "/ops/private", withIntermediateDirectories: true)
        try write(t + "/ops/private", Array("key".utf8), "k\n")
        for (tool, args) in [
            ("/bin/chmod", ["700", t + "/modules"]), ("/bin/chown", ["65534:65534", t + "/modules"]),
            ("/bin/chmod", ["2775", t + "/docs"]), ("/bin/chmod", ["1777", t + "/scripts"]),
            ("/usr/bin/setfacl", ["-m", "u:65534:rx", t + "/modules/net"]),
            ("/usr/bin/setfacl", ["-d", "-m", "g:65534:rwx", t + "/modules/net"]),
            ("/usr/bin/setfattr", ["-n", "user.note", "-v", "hello", t + "/data"]),
            ("/bin/chmod", ["750", t + "/ops"]), ("/bin/chown", ["65534:100", t + "/ops"]),
            ("/usr/bin/setfacl", ["-m", "g:65534:rwx", t + "/ops/private"]),
            ("/bin/chmod", ["751", t]), ("/usr/bin/setfattr", ["-n", "user.root", "-v", "r", t]),
        ] {
            _ = try run(tool, args)
        }
        let directories = [
            t, t + "/modules", t + "/modules/net", t + "/docs", t + "/scripts", t + "/data", t + "/ops",
            t + "/ops/private",
        ]
        let before = try directories.map(metadata)

        let b = try Fixtures.commitB(s.repo)
        try s.sync()
        try #expect(directories.map(metadata) == before, "a sync to B changed directory metadata")
        #expect(read(t + "/ops/private", Array("key".utf8)) == "k\n")

        try rollback(s, to: a)
        try #expect(directories.map(metadata) == before, "a rollback to A changed directory metadata")

        try rollback(s, to: b)
        try #expect(directories.map(metadata) == before, "a rollback to B changed directory metadata")
    }

    /// An extended attribute's name is bytes too: one that is not UTF-8 was read back under a lossy name, not found,
    /// and silently dropped by the switch.
    @Test func anAttributeWhoseNameIsNotUTF8IsKept() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        let dir = s.target + "/docs"
        _ = try run("/bin/sh", ["-c", "setfattr -n \"$(printf 'user.caf\\351')\" -v latin1 \"$1\"", "sh", dir])
        // The names and values as bytes (hex), so a name turned into U+FFFD does not compare equal.
        func attributes() throws -> String {
            try run("/bin/sh", ["-c", "getfattr -d -m - --absolute-names \"$1\" | od -An -tx1", "sh", dir])
        }
        let before = try attributes()
        #expect(before.contains("e9"), "\(before)")
        _ = try Fixtures.commitB(s.repo)
        try s.sync()
        #expect(try attributes() == before)
    }

    @Test func aDirectoryTheTreeAddsGetsTheDocumentedModeWhateverTheUmask() throws {
        let s = try Scenario()
        _ = try Fixtures.commitA(s.repo)
        try s.sync()
        try s.repo.write("fresh/deeper/new.nix", "{ }\n")
        _ = try s.repo.commit("adds a directory")
        let old = umask(0o077)
        defer { umask(old) }
        try s.sync()
        #expect(try run("/usr/bin/stat", ["-c", "%a", s.target + "/fresh", s.target + "/fresh/deeper"]) == "755\n755\n")
    }

    /// Makes a directory at `path` as an apply does (`mkdir`, then 0755 keeping the setgid bit it inherited).
    private func makeDirectoryInPlace(_ path: String) throws {
        try #require(mkdir(path, 0o755) == 0, "mkdir \(path): errno \(errno)")
        var st = stat()
        try #require(stat(path, &st) == 0)
        try #require(chmod(path, 0o755 | (st.st_mode & S_ISGID)) == 0)
    }

    /// Makes a file at `path` as a copy from the store is made (created 0444, then 0444 whatever the umask).
    private func makeFileInPlace(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o444)
        try #require(fd >= 0, "create \(path): errno \(errno)")
        fchmod(fd, 0o444)
        close(fd)
    }

    /// What an update makes under a setgid directory with a default ACL comes out as made in place there: a new
    /// directory (and one of the recycled tree's past the target lacks) with the parent's group, the setgid bit and
    /// the default ACL (as default and access ACL); a copied file with the group and the ACL the default gives it.
    /// Both ways of staging: from the store (no generations kept) and the spare tree recycled. Before, they had
    /// neither the bit nor the group nor an ACL: the stage's directories got the target's metadata only after
    /// everything was made in them.
    @Test(arguments: [false, true])
    func whatAnUpdateMakesInheritsAsItWouldInPlace(recycled: Bool) throws {
        let s = try Scenario()
        let (repo, t) = (s.repo, s.target)
        for (path, content) in [("docs/readme", "r"), ("docs/sub/x", "x"), ("docs/old/x", "o"), ("other/f", "0")] {
            try repo.write(path, content + "\n")
        }
        _ = try repo.commit("0")
        let options = ["--link-mode", "copy"] + (recycled ? [] : ["--keep-generations", "0"])
        try s.sync(options)
        for (tool, args) in [
            ("/bin/chown", [":65534", t + "/docs"]), ("/bin/chmod", ["2775", t + "/docs"]),
            ("/usr/bin/setfacl", ["-d", "-m", "g:65534:rwx,u:65534:rx", t + "/docs"]),
        ] {
            _ = try run(tool, args)
        }
        // docs/old goes, and stays in the spare tree (the first sync's) that the last update recycles.
        try repo.remove("docs/old/x")
        for round in 1...4 {
            try repo.write("other/f", "\(round)\n")
            _ = try repo.commit("\(round)")
            try s.sync(options)
        }
        let spare = (t as NSString).deletingLastPathComponent + "/.target.smart-sync/generations/spare"
        #expect(FileManager.default.fileExists(atPath: spare) == recycled, "\(spare)")
        for (path, content) in [
            ("docs/old/x", "back"), ("docs/new/deeper/y", "y"), ("docs/file2", "2"), ("docs/sub/z", "z"),
        ] {
            try repo.write(path, content + "\n")
        }
        _ = try repo.commit("5")
        try s.sync(options)

        // The same made in place, beside them.
        let (d, f) = ("/.in-place-dir", "/.in-place-file")
        try makeDirectoryInPlace(t + "/docs" + d)
        try makeDirectoryInPlace(t + "/docs" + d + d)
        for parent in ["/docs", "/docs" + d, "/docs" + d + d, "/docs/sub"] { try makeFileInPlace(t + parent + f) }
        for (made, inPlace) in [
            ("/docs/new", "/docs" + d), ("/docs/new/deeper", "/docs" + d + d), ("/docs/old", "/docs" + d),
            ("/docs/file2", "/docs" + f), ("/docs/old/x", "/docs" + d + f), ("/docs/new/deeper/y", "/docs" + d + d + f),
            ("/docs/sub/z", "/docs/sub" + f),
        ] {
            let want = try metadata(t + inPlace)
            #expect(try metadata(t + made) == want, "\(made) is not as made in place (\(want))")
        }
        #expect(try metadata(t + "/docs/new").contains("default:group:nogroup:rwx"))  // getfacl shows names
    }

    /// A rollback to a generation brings its tree back: a directory the current target has keeps the operator's
    /// metadata of now; one only the generation has comes back as a directory made now under its parent (as an
    /// update in place to that commit would make it: the parent's setgid group and default ACL), not with the
    /// metadata it had then. Before, it came back with the generation's (a mode, an attribute, an ACL of the past).
    @Test func aDirectoryOnlyTheGenerationHasComesBackAsANewOne() throws {
        let s = try Scenario()
        let (repo, t) = (s.repo, s.target)
        for (path, content) in [("docs/readme", "r"), ("docs/old/deeper/x", "o")] {
            try repo.write(path, content + "\n")
        }
        let a = try repo.commit("A")
        try s.sync()
        for (tool, args) in [
            ("/bin/chmod", ["700", t + "/docs/old"]),
            ("/usr/bin/setfattr", ["-n", "user.then", "-v", "1", t + "/docs/old"]),
            ("/usr/bin/setfacl", ["-m", "u:65534:rwx", t + "/docs/old/deeper"]),
        ] {
            _ = try run(tool, args)
        }
        try repo.remove("docs/old/deeper/x")
        try repo.write("docs/readme", "r2\n")
        _ = try repo.commit("B")
        try s.sync()
        #expect(!FileManager.default.fileExists(atPath: t + "/docs/old"))
        // The operator's metadata now.
        for (tool, args) in [
            ("/bin/chown", [":65534", t + "/docs"]), ("/bin/chmod", ["2770", t + "/docs"]),
            ("/usr/bin/setfacl", ["-d", "-m", "g:65534:rwx", t + "/docs"]),
            ("/usr/bin/setfattr", ["-n", "user.now", "-v", "1", t + "/docs"]),
        ] {
            _ = try run(tool, args)
        }
        let docs = try metadata(t + "/docs")

        try rollback(s, to: a)
        #expect(read(t + "/docs/old/deeper", Array("x".utf8)) == "o\n")
        #expect(try metadata(t + "/docs") == docs, "the directory both trees have lost the operator's metadata")
        let d = "/.in-place-dir"
        try makeDirectoryInPlace(t + "/docs" + d)
        try makeDirectoryInPlace(t + "/docs" + d + d)
        #expect(try metadata(t + "/docs/old") == metadata(t + "/docs" + d))
        #expect(try metadata(t + "/docs/old/deeper") == metadata(t + "/docs" + d + d))
    }

    /// A file restored from a generation into a setgid directory with a default ACL gets the group and the ACL the
    /// file system gives a file made there, as any file made in place. Before, it was given the effective group.
    @Test func aFileRestoredFromAGenerationInheritsAsMadeInPlace() throws {
        let s = try Scenario()
        let (repo, t) = (s.repo, s.target)
        try repo.write("docs/readme", "A\n")
        _ = try repo.commit("A")
        try s.sync()
        for (tool, args) in [
            ("/bin/chown", [":65534", t + "/docs"]), ("/bin/chmod", ["2775", t + "/docs"]),
            ("/usr/bin/setfacl", ["-d", "-m", "g:65534:rwx", t + "/docs"]),
        ] {
            _ = try run(tool, args)
        }
        try repo.write("docs/readme", "B\n")
        _ = try repo.commit("B")
        try s.sync()
        let r = try SmartSyncBinary.run(
            [
                "restore", "docs/readme", "--generation", "1", "--target", t, "--store", s.store, "--state-dir",
                s.stateDir,
            ],
            environment: s.environment(), check: false)
        try #require(r.status == 0, "restore: \(r.stderrString)")
        #expect(read(t + "/docs", Array("readme".utf8)) == "A\n")
        // Made in place as restore makes a file: created private, then 0644.
        let fd = open(t + "/docs/.in-place-file", O_WRONLY | O_CREAT | O_EXCL, 0o600)
        try #require(fd >= 0)
        fchmod(fd, 0o644)
        close(fd)
        #expect(try metadata(t + "/docs/readme") == metadata(t + "/docs/.in-place-file"))
    }

    // MARK: - Names as bytes

    @Test func operatorFilesWithAnyNameSurviveSyncRollbackAndRestore() throws {
        let s = try Scenario()
        let a = try Fixtures.commitA(s.repo)
        try s.sync()
        try write(s.target + "/modules", latin1, "latin-1\n")
        try write(s.target + "/docs", nfc, "composed\n")
        try write(s.target + "/docs", nfd, "decomposed\n")
        func check(_ when: String) {
            #expect(read(s.target + "/modules", latin1) == "latin-1\n", "\(when): the Latin-1 name is gone")
            #expect(read(s.target + "/docs", nfc) == "composed\n", "\(when): the NFC twin is gone or merged")
            #expect(read(s.target + "/docs", nfd) == "decomposed\n", "\(when): the NFD twin is gone or merged")
        }
        let b = try Fixtures.commitB(s.repo)
        for _ in 0..<4 { try s.sync(["--ref", b]) }  // more syncs than kept generations
        check("after syncs")
        try rollback(s, to: a)
        check("after a rollback")
        try rollback(s, to: b)
        check("after a second rollback")
    }

    /// A repository whose tree holds a Latin-1 name and NFC/NFD twins, synced through the local source and the pack
    /// transport (git's own objects), then edited, kept and restored by the escaped name smart-sync prints.
    @Test(arguments: ["local", "pack"])
    func treePathsAreBytesOnEveryTransportThatCarriesThem(_ transport: String) throws {
        let repo = try GitFixture()
        try repo.write("README.md", "names\n")
        try FileManager.default.createDirectory(atPath: repo.workTree + "/n", withIntermediateDirectories: true)
        for (name, text) in [(latin1, "latin-1\n"), (nfc, "composed\n"), (nfd, "decomposed\n")] {
            try write(repo.workTree + "/n", name, text)
        }
        _ = try repo.git("-c", "core.precomposeunicode=false", "add", "-A")
        let a = try repo.commit("names")
        let s = try Scenario(repo: repo)
        let git = try GitHTTPServer(repositories: [s.slug: s.repo.gitDir])
        defer { git.stop() }
        func sync() throws -> ProcessResult {
            if transport == "local" {
                return try SmartSyncBinary.run(
                    [
                        "sync", "--source", repo.path, "--ref", a, "--target", s.target, "--store", s.store,
                        "--state-dir", s.stateDir, "--json",
                    ], environment: s.environment(), check: false)
            }
            return try s.run("sync", ["--ref", a, "--transport", "pack", "--git-url", git.baseURL, "--json"])
        }
        let first = try sync()
        try #require(first.status == 0, "\(first.stderrString)")
        #expect(read(s.target + "/n", latin1) == "latin-1\n")
        #expect(read(s.target + "/n", nfc) == "composed\n")
        #expect(read(s.target + "/n", nfd) == "decomposed\n")

        // An editor's save (a new inode) under the Latin-1 name: kept by the next sync, restored by its printed name.
        let dir = s.target + "/n"
        try remove(dir, latin1)
        try write(dir, latin1, "mine\n")
        let second = try sync()
        try #require(second.status == 0, "\(second.stderrString)")
        #expect(second.stdoutString.contains("n/caf\\\\xe9.txt"), "the kept path is not shown escaped")
        #expect(read(dir, latin1) == "latin-1\n")
        let restore = try SmartSyncBinary.run(
            ["restore", "n/caf\\xe9.txt", "--target", s.target, "--store", s.store, "--state-dir", s.stateDir],
            environment: s.environment(), check: false)
        #expect(restore.status == 0, "\(restore.stderrString)")
        #expect(read(dir, latin1) == "mine\n")
        #expect(read(dir, nfc) == "composed\n" && read(dir, nfd) == "decomposed\n")
    }
}
