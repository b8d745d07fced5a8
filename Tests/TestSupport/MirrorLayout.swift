import Foundation
import SmartSyncCore

/// Writes docs/MIRROR.md's static mirror layout (version 1) from a fixture repository with plain git, as
/// `smart-sync publish` would, so the mirror client can be tested against files built independently of it:
/// `commits/` (each published commit and its ancestors), `listings/` (`git ls-tree -r -t -l -z --full-tree`),
/// `objects/` (`git cat-file blob`), `packs/<commit>.pack` (`git pack-objects` of the commit, its trees and blobs),
/// `refs` and `smart-sync-mirror.json`.
public enum MirrorLayout {
    /// Publishes `refs` (name → commit) of `repo` into `directory`.
    ///
    /// - Parameters:
    ///   - repository: the name `smart-sync-mirror.json` and `refs` carry (`OWNER/REPO`).
    ///   - published, expires: the pointer's times (Unix seconds); default: now and a week from now.
    ///   - packs: write `packs/<commit>.pack` for each ref's commit.
    public static func publish(
        _ repo: GitFixture, refs: [String: String], head: String, to directory: String, repository: String,
        published: Int? = nil, expires: Int? = nil, packs: Bool = true
    ) throws {
        try TestFiles.write(
            directory + "/smart-sync-mirror.json",
            #"{"format":"smart-sync-mirror","version":1,"repository":"\#(repository)"}"# + "\n")
        for commit in Set(refs.values) {
            for id in try repo.git("rev-list", commit).split(separator: "\n") {
                try put(directory, "commits", String(id), try repo.gitResult(["cat-file", "commit", String(id)]).stdout)
            }
            let tree = try repo.revParse(commit + "^{tree}")
            try put(
                directory, "listings", tree,
                try repo.gitResult(["ls-tree", "-r", "-t", "-l", "-z", "--full-tree", tree]).stdout)
            let blobs = try repo.gitResult(["ls-tree", "-r", "-z", "--full-tree", tree]).stdout
            for line in blobs.split(separator: 0) {
                let fields = line.prefix { $0 != UInt8(ascii: "\t") }.split(separator: UInt8(ascii: " "))
                guard fields.count == 3, String(decoding: fields[1], as: UTF8.self) == "blob" else { continue }
                let id = String(decoding: fields[2], as: UTF8.self)
                try put(directory, "objects", id, try repo.gitResult(["cat-file", "blob", id]).stdout)
            }
            if packs {
                // The commit, its trees and its blobs: no parents, no thin deltas.
                let objects = try repo.gitResult(["rev-list", "--objects", "--no-walk", commit]).stdout
                let pack = try repo.gitResult(["pack-objects", "--stdout"], input: objects).stdout
                try TestFiles.makeDirectories(directory + "/packs")
                try TestFiles.write(directory + "/packs/\(commit).pack", bytes: pack)
            }
        }
        let now = Int(Date().timeIntervalSince1970)
        let pointer: [String: Any] = [
            "format": "smart-sync-refs", "version": 1, "repository": repository, "published": published ?? now,
            "expires": expires ?? now + 7 * 86_400, "head": head, "refs": refs,
        ]
        let json = try JSONSerialization.data(withJSONObject: pointer, options: [.sortedKeys])
        try TestFiles.write(directory + "/refs", bytes: Array(json) + [0x0A])
    }

    /// Signs `directory/refs` with the private key at `key` (`ssh-keygen -Y sign -n smart-sync`), writing `refs.sig`.
    public static func sign(_ directory: String, key: String, namespace: String = "smart-sync") throws {
        try? FileManager.default.removeItem(atPath: directory + "/refs.sig")
        try ProcessRunner.run("ssh-keygen", ["-q", "-Y", "sign", "-n", namespace, "-f", key, directory + "/refs"])
    }

    /// The path of `id`'s file in `kind` (`objects`, `commits`, `listings`) under `directory`.
    public static func path(_ directory: String, _ kind: String, _ id: String) -> String {
        directory + "/" + kind + "/" + id.prefix(2) + "/" + id.dropFirst(2)
    }

    private static func put(_ directory: String, _ kind: String, _ id: String, _ bytes: [UInt8]) throws {
        let file = path(directory, kind, id)
        try TestFiles.makeDirectories(String(file[..<file.lastIndex(of: "/")!]))
        try TestFiles.write(file, bytes: bytes)
    }
}
