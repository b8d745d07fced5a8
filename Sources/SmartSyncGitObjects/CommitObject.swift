/// The parts of a git commit object that a sync needs: its root tree and its parents.
public struct CommitObject: Sendable, Hashable {
    /// The commit's root tree.
    public var tree: ObjectID
    /// The parent commits, in order (empty for a root commit).
    public var parents: [ObjectID]

    public init(tree: ObjectID, parents: [ObjectID]) {
        self.tree = tree
        self.parents = parents
    }

    /// Parses a commit object body (the content without the `"commit <size>\0"` header).
    ///
    /// The body must start with a `tree <hex>` line, followed by any `parent <hex>` lines. Returns nil for
    /// anything else.
    public static func parse(_ body: [UInt8]) -> CommitObject? {
        var tree: ObjectID?
        var parents: [ObjectID] = []
        var start = 0
        while start < body.count {
            guard let newline = body[start...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            let line = body[start..<newline]
            start = newline + 1
            if line.isEmpty { break }  // end of the headers; the message follows
            guard let space = line.firstIndex(of: UInt8(ascii: " ")) else {
                if tree == nil { return nil }
                continue
            }
            let key = line[line.startIndex..<space]
            let value = line[(space + 1)...]
            if tree == nil {
                guard key.elementsEqual("tree".utf8), let id = ObjectID(hex: String(decoding: value, as: UTF8.self))
                else { return nil }
                tree = id
            } else if key.elementsEqual("parent".utf8) {
                guard let id = ObjectID(hex: String(decoding: value, as: UTF8.self)) else { return nil }
                parents.append(id)
            } else {
                break  // author, committer and the rest: not needed
            }
        }
        guard let tree else { return nil }
        return CommitObject(tree: tree, parents: parents)
    }
}
