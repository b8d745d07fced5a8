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
        let sorted = children.sorted(by: precedes)
        var out = [UInt8]()
        out.reserveCapacity(children.count * 40)
        for c in sorted {
            out.append(contentsOf: c.mode.treeObjectString.utf8)
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: c.name)
            out.append(0)
            c.id.append(to: &out)
        }
        return out
    }

    /// The id of the tree made of `children`.
    public static func id(of children: [Child]) -> ObjectID {
        ObjectID.hash(.tree, encode(children))
    }

    /// git's order: byte order of the names, a tree's compared as if it ended in `/` (no key built: this runs
    /// n log n times for every tree of every listing verified).
    static func precedes(_ a: Child, _ b: Child) -> Bool {
        let x = a.name
        let y = b.name
        let xn = x.count + (a.mode == .tree ? 1 : 0)
        let yn = y.count + (b.mode == .tree ? 1 : 0)
        var i = 0
        while i < xn && i < yn {
            let p = i < x.count ? x[i] : UInt8(ascii: "/")
            let q = i < y.count ? y[i] : UInt8(ascii: "/")
            if p != q { return p < q }
            i += 1
        }
        return xn < yn
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
