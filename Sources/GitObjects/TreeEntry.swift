/// One entry of a flattened (recursive) tree listing.
public struct TreeEntry: Hashable, Sendable, Codable {
    /// The slash-separated path from the repository root. Validated by ``TreeListing/validate()``.
    public var path: String
    public var mode: FileMode
    /// The blob, tree or (for gitlinks) commit id.
    public var id: ObjectID
    /// Blob size in bytes when the source reported it.
    public var size: Int?

    public init(path: String, mode: FileMode, id: ObjectID, size: Int? = nil) {
        self.path = path
        self.mode = mode
        self.id = id
        self.size = size
    }

    /// The last path component.
    public var name: Substring {
        if let slash = path.lastIndex(of: "/") { return path[path.index(after: slash)...] }
        return path[...]
    }

    /// The parent directory's path, empty for the root.
    public var parent: Substring {
        if let slash = path.lastIndex(of: "/") { return path[..<slash] }
        return ""
    }
}
