import SmartSyncCore
import SmartSyncGitObjects

/// A mirror's `listings/` file: the bytes `git ls-tree -r -t -l -z --full-tree <tree>` prints, one entry per
/// `<mode> SP <type> SP <id> SP <size> TAB <path> NUL`, the size right-aligned with spaces (or `-` for trees and
/// submodules), the path raw bytes (see docs/MIRROR.md, "Listings").
enum MirrorListing {
    /// Parses `bytes` into the listing of `commit` whose root tree is `rootTree`. Parsing checks the shape only; the
    /// caller verifies the entries against the root tree (``TreeListing/verify()``).
    ///
    /// - Throws: `.malformedResponse` naming `source` and the entry's offset.
    static func parse(_ bytes: [UInt8], commit: ObjectID, rootTree: ObjectID, source: String) throws -> TreeListing {
        var entries: [TreeEntry] = []
        var start = 0
        while start < bytes.count {
            guard let end = bytes[start...].firstIndex(of: 0) else {
                throw malformed(source, at: start, "the last entry has no closing NUL")
            }
            guard let tab = bytes[start..<end].firstIndex(of: UInt8(ascii: "\t")) else {
                throw malformed(source, at: start, "an entry has no TAB before its path")
            }
            let fields = bytes[start..<tab].split(separator: UInt8(ascii: " "))
            guard fields.count == 4, let mode = FileMode(octal: String(decoding: fields[0], as: UTF8.self)),
                let id = ObjectID(hex: String(decoding: fields[2], as: UTF8.self))
            else {
                throw malformed(source, at: start, "an entry is not '<mode> <type> <id> <size>'")
            }
            let type = String(decoding: fields[1], as: UTF8.self)
            let expected = mode == .tree ? "tree" : mode == .gitlink ? "commit" : "blob"
            guard type == expected else {
                throw malformed(source, at: start, "an entry of mode \(mode) has type '\(EscapedText.excerpt(type))'")
            }
            let sizeText = String(decoding: fields[3], as: UTF8.self)
            let size = Int(sizeText)
            guard size.map({ TreeEntry.isPlausible(size: $0) }) ?? (sizeText == "-" && !mode.isBlob) else {
                throw malformed(source, at: start, "an entry has the size '\(EscapedText.excerpt(sizeText))'")
            }
            entries.append(TreeEntry(path: TreePath(bytes: bytes[(tab + 1)..<end]), mode: mode, id: id, size: size))
            start = end + 1
        }
        return TreeListing(commit: commit, rootTree: rootTree, entries: entries)
    }

    private static func malformed(_ source: String, at offset: Int, _ why: String) -> SmartSyncError {
        SmartSyncError(.malformedResponse, "the listing \(source) is damaged at byte \(offset): \(why)")
    }
}
