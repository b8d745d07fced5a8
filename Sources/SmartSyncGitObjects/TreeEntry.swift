/// One entry of a flattened (recursive) tree listing.
public struct TreeEntry: Hashable, Sendable, Codable {
    /// The slash-separated path from the repository root, as bytes. Validated by ``TreeListing/validate()``.
    public var path: TreePath
    public var mode: FileMode
    /// The blob, tree or (for gitlinks) commit id.
    public var id: ObjectID
    /// Blob size in bytes when the source reported it.
    public var size: Int?

    /// The largest blob size a listing may report (256 TiB): a size is the source's word (no hash covers it), so a
    /// decoder refuses one outside `0...sizeLimit`, and a sum of a listing's sizes stays far from `Int.max`.
    public static let sizeLimit = 1 << 48

    /// Whether `size` is one a file can have (see ``sizeLimit``).
    public static func isPlausible(size: Int) -> Bool { (0...sizeLimit).contains(size) }

    public init(path: TreePath, mode: FileMode, id: ObjectID, size: Int? = nil) {
        self.path = path
        self.mode = mode
        self.id = id
        self.size = size
    }

    /// The last path component.
    public var name: TreePath { path.lastComponent }

    /// The parent directory's path, empty for the root.
    public var parent: TreePath { path.parent }
}
