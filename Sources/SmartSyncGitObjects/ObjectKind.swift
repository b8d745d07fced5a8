/// The four git object types.
public enum ObjectKind: String, Sendable, Hashable, Codable {
    case blob, tree, commit, tag

    /// The `"<kind> <size>\0"` header that git hashes before the content.
    public func header(size: Int) -> [UInt8] {
        Array("\(rawValue) \(size)".utf8) + [0]
    }
}

extension ObjectID {
    /// Hashes a whole object held in memory.
    public static func hash<C: Collection>(_ kind: ObjectKind, _ content: C) -> ObjectID where C.Element == UInt8 {
        let h = SHA1Hasher()
        h.update(kind.header(size: content.count))
        h.update(content)
        return h.finalize()
    }
}
