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
        #expect(try StageRecyclerTests.metadata(destination + "/shared") == StageRecyclerTests.metadata(source + "/shared"))
        let fresh = try StageRecyclerTests.metadata(destination + "/shared/old")
        #expect(fresh == "2755 \(geteuid()) 65534\nuser::rwx\ngroup::r-x\nother::r-x\n\n", "\(fresh)")
    }
}
