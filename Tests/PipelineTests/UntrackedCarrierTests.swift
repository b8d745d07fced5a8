import Foundation
import Glibc
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The carrier finds each path's rule with one forward cursor as its walk goes: on names whose directories have
/// siblings between their own name and their contents, names that are not UTF-8, and on a file system that reports no
/// `d_type`, every rule holds; directories of another time are settled.
@Suite(.serialized) struct UntrackedCarrierTests {
    typealias Rule = UntrackedCarrier.Rule

    /// The rule each file of ``SortedWalkTests/files`` gets; `nil`: not in the table (``UntrackedCarrier/unlisted``).
    static func rule(_ i: Int) -> Rule? { [Rule.treeFile, .carry, .leave, nil][i % 4] }

    static func stat(_ root: String, _ path: TreePath) -> stat? {
        var st = Glibc.stat()
        return lstat(SortedWalkTests.cString(root, path), &st) == 0 ? st : nil
    }

    /// Carries the tricky tree into a destination holding its own version of the `treeFile` paths, and checks where
    /// every path went. A rule read out of order reads as `unlisted`: with `unlisted` `.leave` a file to carry would
    /// stay behind, with `.carry` and `replaceExisting` a tree file would be replaced.
    func carryTheTrickyTree(in root: String, unlisted: Rule) throws {
        let source = root + "/source"
        let destination = root + "/destination"
        mkdir(source, 0o755)
        mkdir(destination, 0o755)
        try SortedWalkTests.makeTree(source)
        let temporary = source + "/a/" + Materializer.temporaryPrefix + "1234"
        try Data("half written\n".utf8).write(to: URL(fileURLWithPath: temporary))
        // Only files the new tree deletes, in a directory it does not have: not recreated.
        mkdir(source + "/deleted", 0o755)
        try Data("ours\n".utf8).write(to: URL(fileURLWithPath: source + "/deleted/f"))

        let excluded: TreePath = "a/b.c"
        let files = SortedWalkTests.files.enumerated().filter { !excluded.isAncestor(of: $1) }
        var pairs: [(TreePath, Rule)] = [(excluded, .carryWhole), ("deleted/f", .leave)]
        var treeInodes: [TreePath: ino_t] = [:]
        for (i, file) in files {
            if let rule = Self.rule(i) { pairs.append((file, rule)) }
            guard Self.rule(i) == .treeFile else { continue }
            for p in file.ancestors.reversed() { mkdir(SortedWalkTests.cString(destination, p), 0o755) }
            let fd = open(SortedWalkTests.cString(destination, file), O_WRONLY | O_CREAT | O_EXCL, 0o444)
            try #require(fd >= 0, "\(file)")
            close(fd)
            treeInodes[file] = Self.stat(destination, file)?.st_ino
        }

        var carrier = UntrackedCarrier(rules: PathTable(sorting: pairs), unlisted: unlisted)
        carrier.replaceExisting = unlisted == .carry
        try carrier.carry(from: source, into: destination)

        for (i, file) in files {
            let there = Self.stat(destination, file)
            switch Self.rule(i) ?? unlisted {
            case .treeFile:
                #expect(there?.st_ino == treeInodes[file], "the tree file \(file) was replaced")
            case .carry:
                #expect(there?.st_ino == Self.stat(source, file)?.st_ino, "\(file) was not carried")
            default:
                #expect(there?.st_ino == nil, "\(file) was carried")
            }
        }
        // The excluded subtree whole (its symlink as the symlink it is), the operator's empty directory and symlink.
        for path in ["a/b.c/d", "a/b.c/l"] as [TreePath] {
            #expect(Self.stat(destination, path)?.st_ino == Self.stat(source, path)?.st_ino, "\(path)")
        }
        #expect(Self.stat(destination, "a/b.c/e").map { ($0.st_mode & S_IFMT) == S_IFDIR } == true)
        #expect(Self.stat(destination, "e").map { ($0.st_mode & S_IFMT) == S_IFDIR } == true)
        #expect(Self.stat(destination, "l")?.st_ino == (unlisted == .carry ? Self.stat(source, "l")?.st_ino : nil))
        #expect(Self.stat(destination, "deleted") == nil, "a directory of deleted files was recreated")
        #expect(!FileManager.default.fileExists(atPath: destination + "/a/" + Materializer.temporaryPrefix + "1234"))
    }

    /// Only a name of the exact shape ``Materializer/temporaryName()`` makes is passed over as a killed run's
    /// leftover; the operator's files under the same prefix are untracked files like any other (the scan and the plan
    /// count them so) and are carried, at the root and deeper.
    @Test func carriesTheOperatorsFilesUnderTheTemporaryPrefix() throws {
        let dir = try TemporaryDirectory(prefix: "carrier")
        defer { dir.remove() }
        let (source, destination) = (dir["source"], dir["destination"])
        for root in [source, destination] { mkdir(root, 0o755) }
        mkdir(source + "/d", 0o755)
        let prefix = Materializer.temporaryPrefix
        let operators = ["notes", "DEADBEEF", "", "0123456789abcdef0", "12-34", "cafe.txt"].flatMap {
            [TreePath(prefix + $0), TreePath("d/" + prefix + $0)]
        }
        let leftovers = [TreePath(Materializer.temporaryName()), TreePath("d/" + prefix + "1a2b")]
        for path in operators + leftovers {
            try Data("\(path)\n".utf8).write(to: URL(fileURLWithPath: source + "/\(path)"))
        }
        // The plan's rules: every one of them untracked.
        let rules = PathTable(sorting: (operators + leftovers).map { ($0, Rule.carry) })
        try UntrackedCarrier(rules: rules).carry(from: source, into: destination)
        for path in operators {
            #expect(Self.stat(destination, path)?.st_ino == Self.stat(source, path)?.st_ino, "\(path) was not carried")
        }
        for path in leftovers { #expect(Self.stat(destination, path) == nil, "\(path) was carried") }
    }

    @Test(arguments: [Rule.leave, .carry])
    func everyRuleHoldsOverTrickyNames(_ unlisted: Rule) throws {
        let dir = try TemporaryDirectory(prefix: "carrier")
        defer { dir.remove() }
        try carryTheTrickyTree(in: dir.path, unlisted: unlisted)
    }

    /// Without `d_type` each entry is looked at to order the walk: the same rules hold.
    @Test(arguments: [Rule.leave, .carry])
    func everyRuleHoldsOnAFileSystemWithoutDType(_ unlisted: Rule) throws {
        guard let fs = try SortedWalkTests.fileSystemWithoutDType() else { return }
        try carryTheTrickyTree(in: fs.mountPoint, unlisted: unlisted)
    }

    /// Entries whose type changes after the walk read it (`readdir`'s type, or the `lstat` where there is none): a
    /// file that becomes a directory is walked as one (its contents, which sort among later siblings, on a copy of the
    /// cursor), a directory that becomes a file is carried as a file, and every sibling after them still gets its own
    /// rule. `unlisted` is `.leave`: a rule read out of place leaves a file behind.
    func carryEntriesThatChangeType(in root: String) throws {
        let (source, destination) = (root + "/source", root + "/destination")
        for d in [source, destination, source + "/c"] { mkdir(d, 0o755) }
        func write(_ path: String) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            try #require(fd >= 0, "\(path): errno \(errno)")
            close(fd)
        }
        for f in ["b", "b-", "b0", "c/f", "c-", "d", "z"] { try write(source + "/" + f) }
        try write(destination + "/b0")
        let treeFile = Self.stat(destination, "b0")?.st_ino
        let rules: [(TreePath, Rule)] = [
            ("b", .carry), ("b-", .carry), ("b/in", .carry), ("b/skip", .leave), ("b0", .treeFile), ("c", .carry),
            ("c-", .carry), ("c/f", .carry), ("d", .leave), ("d/x", .carry), ("z", .carry),
        ]
        var carrier = UntrackedCarrier(rules: PathTable(sorting: rules), unlisted: .leave)
        var changed = false
        carrier.afterReading = { directory in
            guard directory.isEmpty, !changed else { return }
            changed = true
            // b and d: files become directories; c: a directory becomes a file.
            for f in ["b", "d", "c/f"] { unlink(source + "/" + f) }
            rmdir(source + "/c")
            for d in ["b", "d"] { mkdir(source + "/" + d, 0o755) }
            for f in ["b/in", "b/skip", "c", "d/x"] { try? write(source + "/" + f) }
        }
        try carrier.carry(from: source, into: destination)
        #expect(changed)
        for path in ["b/in", "b-", "c", "c-", "d/x", "z"] as [TreePath] {
            let carried = Self.stat(destination, path)
            #expect(carried != nil && carried?.st_ino == Self.stat(source, path)?.st_ino, "\(path) was not carried")
        }
        #expect(Self.stat(destination, "b/skip") == nil, "b/skip was carried")
        #expect(Self.stat(destination, "b0")?.st_ino == treeFile, "the tree file b0 was replaced")
        #expect(Self.stat(destination, "c").map { ($0.st_mode & S_IFMT) == S_IFREG } == true)
    }

    @Test func entriesThatChangeTypeAfterReaddirKeepTheirRules() throws {
        let dir = try TemporaryDirectory(prefix: "carrier")
        defer { dir.remove() }
        try carryEntriesThatChangeType(in: dir.path)
    }

    /// The same where the file system reports no `d_type` (ext4 without `filetype`): the types come from the `lstat`
    /// at listing, and go stale the same way.
    @Test func entriesThatChangeTypeKeepTheirRulesOnAFileSystemWithoutDType() throws {
        guard let fs = try SortedWalkTests.fileSystemWithoutDType() else { return }
        try carryEntriesThatChangeType(in: fs.mountPoint)
    }

    /// Unsettled directories (a recycled tree's): the one the source has gets its metadata, the one it lacks a new
    /// directory's, with the group and setgid bit of its parent as that is after the carry (as `mkdir` there would).
    @Test func unsettledDirectoriesGetTheSourcesMetadataOrANewDirectorys() throws {
        let dir = try TemporaryDirectory(prefix: "carrier")
        defer { dir.remove() }
        let (source, destination) = (dir["source"], dir["destination"])
        for d in [source, source + "/shared", destination, destination + "/shared", destination + "/shared/old"] {
            mkdir(d, 0o755)
        }
        for (tool, args) in [
            ("/bin/chmod", ["2770", source + "/shared"]), ("/bin/chown", ["0:65534", source + "/shared"]),
            ("/usr/bin/setfattr", ["-n", "user.now", "-v", "1", source + "/shared"]),
            ("/usr/bin/setfattr", ["-n", "user.then", "-v", "0", destination + "/shared"]),
            ("/usr/bin/setfattr", ["-n", "user.then", "-v", "0", destination + "/shared/old"]),
            ("/usr/bin/setfacl", ["-m", "u:65534:rwx", destination + "/shared/old"]),
            ("/bin/chmod", ["700", destination + "/shared/old"]),
        ] {
            try ProcessRunner.run(tool, args)
        }
        let carrier = UntrackedCarrier(rules: [:], unsettled: ["shared/old", "shared"])
        try carrier.carry(from: source, into: destination)
        #expect(
            try StageRecyclerTests.metadata(destination + "/shared") == StageRecyclerTests.metadata(source + "/shared"))
        let fresh = try StageRecyclerTests.metadata(destination + "/shared/old")
        #expect(fresh == "2755 \(geteuid()) 65534\nuser::rwx\ngroup::r-x\nother::r-x\n\n", "\(fresh)")
    }
}
