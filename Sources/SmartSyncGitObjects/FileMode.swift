/// The modes git records in tree entries.
public enum FileMode: UInt32, Sendable, Hashable, Codable, CustomStringConvertible {
    case regular = 0o100644
    case executable = 0o100755
    case symlink = 0o120000
    /// A submodule commit: reported, never fetched.
    case gitlink = 0o160000
    case tree = 0o040000

    /// Parses the octal mode string of the REST API (`"100644"`) or a tree object (`"40000"`).
    /// Legacy group-writable blob modes (`100664`) are read as regular files, as git does.
    public init?(octal: some StringProtocol) {
        guard let v = UInt32(octal, radix: 8) else { return nil }
        switch v {
        case 0o100644, 0o100664, 0o100600: self = .regular
        case 0o100755: self = .executable
        case 0o120000: self = .symlink
        case 0o160000: self = .gitlink
        case 0o040000: self = .tree
        default: return nil
        }
    }

    /// The mode as written inside a tree object (`40000` for trees, no leading zero).
    public var treeObjectString: String { String(rawValue, radix: 8) }

    /// The six-digit form the REST API uses.
    public var description: String {
        let s = String(rawValue, radix: 8)
        return s.count < 6 ? String(repeating: "0", count: 6 - s.count) + s : s
    }

    /// True for entries whose content is a blob (files and symlinks).
    public var isBlob: Bool { self == .regular || self == .executable || self == .symlink }
}
