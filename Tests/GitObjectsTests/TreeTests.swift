import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import Testing

/// Makes a repository holding every mode and git's awkward sort cases, and returns its listing.
private func makeRepository() throws -> (dir: String, listing: TreeListing) {
    let dir = NSTemporaryDirectory() + "tree-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir + "/a/b", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: dir + "/dir with space", withIntermediateDirectories: true)
    func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + path))
    }
    try write("a.b", "dot\n")
    try write("a-", "dash\n")
    try write("a/b/deep.txt", "deep\n")
    try write("a0", "zero\n")
    try write("dir with space/ünïcødé ☃.txt", "snow\n")
    try write("empty", "")
    try write("run.sh", "#!/bin/sh\n")
    chmod(dir + "/run.sh", 0o755)
    try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: "a/b/deep.txt")
    _ = try runGit(["init", "-q", "-b", "main"], in: dir)
    _ = try runGit(["add", "-A"], in: dir)
    // A submodule entry (gitlink) without a real submodule.
    _ = try runGit(
        ["update-index", "--add", "--cacheinfo", "160000,1111111111111111111111111111111111111111,sub"], in: dir)
    _ = try runGit(
        ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "m"], in: dir)
    let commit = ObjectID(hex: try runGit(["rev-parse", "HEAD"], in: dir))!
    let tree = ObjectID(hex: try runGit(["rev-parse", "HEAD^{tree}"], in: dir))!
    let raw = try runGit(["-c", "core.quotepath=off", "ls-tree", "-r", "-t", "-z", "HEAD"], in: dir)
    var entries: [TreeEntry] = []
    for record in raw.split(separator: "\0") where !record.isEmpty {
        let tab = record.firstIndex(of: "\t")!
        let fields = record[..<tab].split(separator: " ")
        entries.append(
            TreeEntry(
                path: TreePath(String(record[record.index(after: tab)...])), mode: FileMode(octal: fields[0])!,
                id: ObjectID(hex: fields[2])!))
    }
    return (dir, TreeListing(commit: commit, rootTree: tree, entries: entries))
}

@Suite("Tree objects")
struct TreeTests {
    @Test func listingHashesUpToGitsRootTree() throws {
        let (dir, listing) = try makeRepository()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(Set(listing.entries.map(\.mode)) == [.regular, .executable, .symlink, .gitlink, .tree])
        try listing.verify()
        try listing.validate()
        #expect(listing.submodules.map(\.path) == ["sub"])
        // Every subtree's encoding matches git's own object byte for byte.
        let subtree = listing.entries.first { $0.path == "a" }!
        let children = listing.entries.filter { $0.parent == "a" }.map {
            TreeObject.Child(name: $0.name.bytes, mode: $0.mode, id: $0.id)
        }
        #expect(TreeObject.id(of: children) == subtree.id)
        #expect(TreeObject.id(of: []) == .emptyTree)
    }

    @Test func decodeRoundTrips() throws {
        let (dir, listing) = try makeRepository()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let top = listing.entries.filter { $0.parent.isEmpty }.map {
            TreeObject.Child(name: $0.name.bytes, mode: $0.mode, id: $0.id)
        }
        let body = TreeObject.encode(top)
        let decoded = try #require(TreeObject.decode(body))
        #expect(TreeObject.encode(decoded) == body)
        #expect(TreeObject.decode(Array(body.dropLast())) == nil)
    }

    @Test(arguments: ["changed-blob", "dropped-entry", "extra-entry", "changed-mode", "wrong-root"])
    func tamperedListingIsRefused(tamper: String) throws {
        let (dir, original) = try makeRepository()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var listing = original
        let i = listing.entries.firstIndex { $0.path == "a/b/deep.txt" }!
        switch tamper {
        case "changed-blob": listing.entries[i].id = ObjectID.blob(Array("evil".utf8))
        case "dropped-entry": listing.entries.remove(at: i)
        case "extra-entry": listing.entries.append(TreeEntry(path: "a/b/evil", mode: .regular, id: .emptyBlob))
        case "changed-mode": listing.entries[i].mode = .executable
        default: listing.rootTree = .emptyTree
        }
        do {
            try listing.verify()
            Issue.record("tampering '\(tamper)' was not detected")
        } catch let error as SmartSyncError {
            #expect(error.code == .integrity)
            #expect(error.message.contains(original.commit.abbreviated()))
        }
    }

    @Test(arguments: [
        "../escape", "a/../../b", "/etc/passwd", "a//b", ".git/config", "x/.GIT/hooks", "./a", "a/.", "nul\0byte", "",
        "a/", ".git./config", ".git  /hooks", "GIT~1/config", "x/.GiT. . /y", "a\\.git\\config",
    ])
    func unsafePathsAreRefused(path: String) {
        let listing = TreeListing(
            commit: .emptyTree, rootTree: .emptyTree,
            entries: [TreeEntry(path: TreePath(path), mode: .regular, id: .emptyBlob)])
        do {
            try listing.validate()
            Issue.record("'\(path)' was accepted")
        } catch let error as SmartSyncError {
            #expect(error.code == .unsafePath)
            #expect(error.message.contains("refusing"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func pathThroughSymlinkOfSameTreeIsRefused() {
        let listing = TreeListing(
            commit: .emptyTree, rootTree: .emptyTree,
            entries: [
                TreeEntry(path: "etc", mode: .symlink, id: .emptyBlob),
                TreeEntry(path: "etc/passwd", mode: .regular, id: .emptyBlob),
            ])
        #expect(throws: SmartSyncError.self) { try listing.validate() }
        let dup = TreeListing(
            commit: .emptyTree, rootTree: .emptyTree,
            entries: [
                TreeEntry(path: "x", mode: .regular, id: .emptyBlob),
                TreeEntry(path: "x", mode: .regular, id: .emptyBlob),
            ])
        #expect(throws: SmartSyncError.self) { try dup.validate() }
    }

    /// Names are bytes: Unicode normalisation twins are two entries, and a Latin-1 name is listed as it is; git's
    /// own tree ids verify.
    @Test func namesAreBytesNormalisationTwinsAndLatin1() throws {
        let dir = NSTemporaryDirectory() + "tree-bytes-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let names: [[UInt8]] = [
            Array("caf\u{E9}.txt".utf8),  // NFC
            Array("cafe\u{301}.txt".utf8),  // NFD
            [0x63, 0x61, 0x66, 0xE9, 0x2E, 0x74, 0x78, 0x74],  // Latin-1
        ]
        let dirFD = open(dir, O_RDONLY | O_DIRECTORY)
        defer { close(dirFD) }
        for (i, name) in names.enumerated() {
            let fd = (name + [0]).withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { openat(dirFD, $0.baseAddress!, O_WRONLY | O_CREAT, 0o644) }
            }
            #expect(fd >= 0)
            _ = "\(i)\n".withCString { write(fd, $0, 2) }
            close(fd)
        }
        _ = try runGit(["init", "-q", "-b", "main"], in: dir)
        _ = try runGit(["-c", "core.precomposeunicode=false", "add", "-A"], in: dir)
        _ = try runGit(["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "m"], in: dir)
        let commit = ObjectID(hex: try runGit(["rev-parse", "HEAD"], in: dir))!
        let tree = ObjectID(hex: try runGit(["rev-parse", "HEAD^{tree}"], in: dir))!
        let bytes = try ProcessRunner(
            "/usr/bin/git", ["-C", dir, "ls-tree", "-r", "-z", "HEAD"], environment: ChildEnvironment.current
        ).runAndWait(error: .standardError).stdout
        var entries: [TreeEntry] = []
        for record in bytes.split(separator: 0) {
            let tab = record.firstIndex(of: 0x09)!
            let fields = record[..<tab].split(separator: 0x20)
            entries.append(
                TreeEntry(
                    path: TreePath(bytes: record[(tab + 1)...]),
                    mode: FileMode(octal: String(decoding: fields[0], as: UTF8.self))!,
                    id: ObjectID(hex: String(decoding: fields[2], as: UTF8.self))!))
        }
        #expect(Set(entries.map(\.path)) == Set(names.map { TreePath(bytes: $0) }))
        #expect(Set(entries.map(\.path)).count == 3, "normalisation twins collapsed")
        let listing = TreeListing(commit: commit, rootTree: tree, entries: entries)
        try listing.validate()
        try listing.verify()
        #expect(TreePath(bytes: names[2]).description == "caf\\xe9.txt")
        #expect(TreePath(escaped: "caf\\xe9.txt") == TreePath(bytes: names[2]))
        #expect(TreePath("caf\u{E9}.txt") != TreePath("cafe\u{301}.txt"))
    }

    /// A name from the network may carry a right-to-left override (it would display `evil\u{202E}txt.nix` as
    /// `evilxin.txt`), a C1 control or a line separator: each is shown escaped, byte by byte, and read back.
    @Test(arguments: [
        ("evil\u{202E}txt.nix", "evil\\xe2\\x80\\xaetxt.nix"), ("a\u{85}b", "a\\xc2\\x85b"),
        ("line\u{2028}break", "line\\xe2\\x80\\xa8break"), ("iso\u{2066}late", "iso\\xe2\\x81\\xa6late"),
        ("caf\u{E9}.nix", "caf\u{E9}.nix"), ("tab\there", "tab\\x09here"), ("back\\slash", "back\\\\slash"),
    ])
    func displayEscapesWhatCouldDisguiseAName(_ name: String, _ shown: String) {
        let path = TreePath(name)
        #expect(path.description == shown)
        #expect(TreePath(escaped: path.description) == path)
    }
}
