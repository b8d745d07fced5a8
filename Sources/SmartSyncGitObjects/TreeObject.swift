/// Encodes git tree objects, so a listing from an untrusted place can be checked against a tree id.
public enum TreeObject {
    /// One direct child of a tree.
    public struct Child: Sendable {
        public var name: [UInt8]
        public var mode: FileMode
        public var id: ObjectID

        public init(name: [UInt8], mode: FileMode, id: ObjectID) {
            self.name = name
            self.mode = mode
            self.id = id
        }
    }

    /// The canonical tree object body: entries sorted as git sorts them
    /// (byte order, with trees compared as if their name ended in `/`),
    /// each `"<mode> <name>\0<20-byte id>"`.
    public static func encode(_ children: [Child]) -> [UInt8] {
        let sorted = children.sorted { sortKey($0).lexicographicallyPrecedes(sortKey($1)) }
        var out = [UInt8]()
        out.reserveCapacity(children.count * 40)
        for c in sorted {
            out.append(contentsOf: c.mode.treeObjectString.utf8)
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: c.name)
            out.append(0)
            out.append(contentsOf: c.id.bytes)
        }
        return out
    }

    /// The id of the tree made of `children`.
    public static func id(of children: [Child]) -> ObjectID {
        ObjectID.hash(.tree, encode(children))
    }

    private static func sortKey(_ c: Child) -> [UInt8] {
        c.mode == .tree ? c.name + [UInt8(ascii: "/")] : c.name
    }

    /// Parses a tree object body into its children.
    public static func decode(_ body: [UInt8]) -> [Child]? {
        var children: [Child] = []
        var i = 0
        while i < body.count {
            guard let space = body[i...].firstIndex(of: UInt8(ascii: " ")),
                let nul = body[space...].firstIndex(of: 0),
                nul + 21 <= body.count,
                let mode = FileMode(octal: String(decoding: body[i..<space], as: UTF8.self)),
                let id = ObjectID(bytes: body[(nul + 1)..<(nul + 21)])
            else { return nil }
            children.append(Child(name: Array(body[(space + 1)..<nul]), mode: mode, id: id))
            i = nul + 21
        }
        return children
    }
}
