import SmartSyncCore
@testable import SmartSyncGitObjects
import Testing

/// ``TreeListing/validate()`` and ``TreeListing/verify()`` take a listing in git's tree order in one pass with a stack
/// of open trees; whatever that pass cannot vouch for goes to the general check, which decides as before.
@Suite struct TreeOrderTests {
    static let x = ObjectID.blob(Array("x\n".utf8))

    /// The tree `a` (holding `a/x`) and the root: a file `a` and `a-b` beside the tree, in git's order
    /// (`a` < `a-b` < `a/`), each name once per tree, so strictly increasing, yet `a` is listed twice.
    @Test func aFileAndATreeOfOneNameAreRefused() {
        let tree = TreeObject.id(of: [TreeObject.Child(name: Array("x".utf8), mode: .regular, id: Self.x)])
        let listing = TreeListing(
            commit: .emptyTree, rootTree: .emptyTree,
            entries: [
                TreeEntry(path: "a", mode: .regular, id: Self.x), TreeEntry(path: "a-b", mode: .regular, id: Self.x),
                TreeEntry(path: "a", mode: .tree, id: tree), TreeEntry(path: "a/x", mode: .regular, id: Self.x),
            ])
        do {
            try listing.validate()
            Issue.record("'a' listed as a file and a tree was accepted")
        } catch let error as SmartSyncError {
            #expect(error.code == .unsafePath)
            #expect(error.message.contains("'a' twice"), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// A tree listed twice, each time with its contents after it: in tree order but for the repeated name.
    @Test func aTreeListedTwiceIsRefused() {
        let tree = TreeObject.id(of: [TreeObject.Child(name: Array("x".utf8), mode: .regular, id: Self.x)])
        let twice = [TreeEntry(path: "d", mode: .tree, id: tree), TreeEntry(path: "d/x", mode: .regular, id: Self.x)]
        let root = TreeObject.id(of: [TreeObject.Child(name: Array("d".utf8), mode: .tree, id: tree)])
        let listing = TreeListing(commit: .emptyTree, rootTree: root, entries: twice + twice)
        #expect(throws: SmartSyncError.self) { try listing.validate() }
        #expect(throws: SmartSyncError.self) { try listing.verify() }
    }

    /// The same listing in tree order and shuffled: both pass; a changed blob deep down fails both ways, with the
    /// general check's message naming the tree.
    @Test func aListingInAnyOrderIsCheckedAlike() throws {
        let y = ObjectID.blob(Array("y\n".utf8))
        let deep = TreeObject.id(of: [TreeObject.Child(name: Array("f".utf8), mode: .regular, id: Self.x)])
        let mid = TreeObject.id(of: [
            TreeObject.Child(name: Array("deep".utf8), mode: .tree, id: deep),
            TreeObject.Child(name: Array("deep.nix".utf8), mode: .regular, id: y),
        ])
        let root = TreeObject.id(of: [
            TreeObject.Child(name: Array("m".utf8), mode: .tree, id: mid),
            TreeObject.Child(name: Array("z".utf8), mode: .regular, id: y),
        ])
        // git's order: `deep.nix` before the tree `deep` (`.` < `/`).
        let inOrder = [
            TreeEntry(path: "m", mode: .tree, id: mid), TreeEntry(path: "m/deep.nix", mode: .regular, id: y),
            TreeEntry(path: "m/deep", mode: .tree, id: deep), TreeEntry(path: "m/deep/f", mode: .regular, id: Self.x),
            TreeEntry(path: "z", mode: .regular, id: y),
        ]
        for entries in [inOrder, inOrder.reversed(), [inOrder[3], inOrder[0], inOrder[4], inOrder[2], inOrder[1]]] {
            let listing = TreeListing(commit: .emptyTree, rootTree: root, entries: entries)
            try listing.validate()
            try listing.verify()
            var tampered = listing
            let i = try #require(tampered.entries.firstIndex { $0.path == "m/deep/f" })
            tampered.entries[i].id = y
            do {
                try tampered.verify()
                Issue.record("a changed blob was not detected")
            } catch let error as SmartSyncError {
                #expect(error.code == .integrity)
                #expect(error.message.contains("'m/deep'"), "\(error.message)")
            }
        }
    }

    /// Sibling trees `a`, `a!`, `a!!`, ... (empty, so the listing is in tree order), listed as git orders them: longest
    /// first (`a!!/` < `a!/` < `a/`). Each tree's check for a file of its name is a binary search, so the one pass
    /// compares names about n log n times (a scan back over the siblings each name starts took n²/2 comparisons of up
    /// to n bytes: n³ bytes, 2.4e11 at a 64 MB listing); the listing is judged as the general check judges it.
    @Test func siblingTreesNamedAsPrefixesCostLogarithmicSteps() throws {
        let n = 1_000
        let names = (0..<n).reversed().map { "a" + String(repeating: "!", count: $0) }
        let children = names.map { TreeObject.Child(name: Array($0.utf8), mode: .tree, id: .emptyTree) }
        let entries = names.map { TreeEntry(path: TreePath($0), mode: .tree, id: .emptyTree) }
        let listing = TreeListing(commit: .emptyTree, rootTree: TreeObject.id(of: children), entries: entries)
        var steps = 0
        #expect(listing.inTreeOrder(steps: &steps) { id, children in TreeObject.id(of: children) == id })
        // One comparison per entry, then at most log2(n) + 1 per tree.
        #expect(steps <= n * 12, "\(steps) comparisons for \(n) trees")
        try listing.validate()
        try listing.verify()
        // The general check (out of tree order) agrees.
        let shuffled = TreeListing(commit: .emptyTree, rootTree: listing.rootTree, entries: entries.reversed())
        #expect(!shuffled.inTreeOrder { _, _ in true })
        try shuffled.validate()
        try shuffled.verify()

        // A file `a` (first in git's order: `a` < `a!!/`) beside the tree `a` (last): found by the search, refused
        // by both forms alike.
        let file = TreeEntry(path: "a", mode: .regular, id: Self.x)
        let twice = TreeListing(commit: .emptyTree, rootTree: listing.rootTree, entries: [file] + entries)
        steps = 0
        #expect(!twice.inTreeOrder(steps: &steps) { _, _ in true })
        #expect(steps <= (n + 1) * 12, "\(steps) comparisons for \(n) trees")
        for form in [twice, TreeListing(commit: .emptyTree, rootTree: listing.rootTree, entries: entries + [file])] {
            do {
                try form.validate()
                Issue.record("'a' listed as a file and a tree was accepted")
            } catch let error as SmartSyncError {
                #expect(error.message.contains("'a' twice"), "\(error.message)")
            }
        }
    }

    /// An entry with an empty path listed as a tree, then `/x` "under" it: the one pass must not open a tree named
    /// "" (it would take `/x` as its child and the hashes would match); the general check takes "" as the root and
    /// refuses. `validate()` refuses it earlier (RepoPath); `verify()` alone is what a mirror runs on a listing.
    @Test func anEmptyNameIsNoTreeToListUnder() {
        let inner = TreeObject.id(of: [TreeObject.Child(name: Array("x".utf8), mode: .regular, id: Self.x)])
        let root = TreeObject.id(of: [TreeObject.Child(name: [], mode: .tree, id: inner)])
        let listing = TreeListing(
            commit: .emptyTree, rootTree: root,
            entries: [TreeEntry(path: "", mode: .tree, id: inner), TreeEntry(path: "/x", mode: .regular, id: Self.x)])
        #expect(!listing.inTreeOrder { _, _ in true })
        #expect(throws: SmartSyncError.self) { try listing.verify() }
        #expect(throws: SmartSyncError.self) { try listing.validate() }
    }

    /// A path through a file below the root, in tree order (`d`, `d/f`, `d/f/x`): no tree `d/f` is open, so the one
    /// pass leaves it to the general check, which refuses it.
    @Test func aPathThroughAFileBelowTheRootIsRefused() {
        let d = TreeObject.id(of: [TreeObject.Child(name: Array("f".utf8), mode: .regular, id: Self.x)])
        let root = TreeObject.id(of: [TreeObject.Child(name: Array("d".utf8), mode: .tree, id: d)])
        let listing = TreeListing(
            commit: .emptyTree, rootTree: root,
            entries: [
                TreeEntry(path: "d", mode: .tree, id: d), TreeEntry(path: "d/f", mode: .regular, id: Self.x),
                TreeEntry(path: "d/f/x", mode: .regular, id: Self.x),
            ])
        #expect(!listing.inTreeOrder { _, _ in true })
        #expect(throws: SmartSyncError.self) { try listing.validate() }
        #expect(throws: SmartSyncError.self) { try listing.verify() }
    }

    /// What ``TreeListing/validate()`` then ``TreeListing/verify()`` say of a listing, as `ok` or the error's code and
    /// message.
    private static func outcome(_ check: () throws -> Void) -> String {
        do {
            try check()
            return "ok"
        } catch let error as SmartSyncError {
            return "\(error.code): \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    /// A listing of one path (`components` joined by `/`, a file holding ``x`` below trees), in tree order and
    /// hashing to its root: only the check of each path's names can refuse it.
    private static func chain(_ components: [String]) -> TreeListing {
        var id = Self.x
        var mode = FileMode.regular
        var levels: [(FileMode, ObjectID)] = []
        for name in components.reversed() {
            levels.insert((mode, id), at: 0)
            id = TreeObject.id(of: [TreeObject.Child(name: Array(name.utf8), mode: mode, id: id)])
            mode = .tree
        }
        let entries = levels.indices.map { i in
            TreeEntry(
                path: TreePath(components[...i].joined(separator: "/")), mode: levels[i].0, id: levels[i].1)
        }
        return TreeListing(commit: .emptyTree, rootTree: id, entries: entries)
    }

    /// ``TreeListing/validateAndVerify()`` (the one pass a sync makes over every listing, its source's or a pin's)
    /// decides every listing as ``TreeListing/validate()`` then ``TreeListing/verify()`` do, the order's checks
    /// included: a name twice, a path through a file or symlink, a changed blob, in tree order or not; the names only
    /// the path check refuses (`..`, `.git`, a temporary file's), in tree order and hashing; and an empty name (which
    /// the order's pass leaves to the general form).
    @Test func validateAndVerifyDecidesAsBothDo() throws {
        let tree = TreeObject.id(of: [TreeObject.Child(name: Array("x".utf8), mode: .regular, id: Self.x)])
        let dRoot = TreeObject.id(of: [TreeObject.Child(name: Array("d".utf8), mode: .tree, id: tree)])
        let d = [TreeEntry(path: "d", mode: .tree, id: tree), TreeEntry(path: "d/x", mode: .regular, id: Self.x)]
        let symlinkRoot = TreeObject.id(of: [TreeObject.Child(name: Array("etc".utf8), mode: .symlink, id: Self.x)])
        var tampered = d
        tampered[1].id = .emptyTree
        let cases: [(String, TreeListing, code: SmartSyncError.Code?)] = [
            ("in tree order", TreeListing(commit: .emptyTree, rootTree: dRoot, entries: d), nil),
            ("reversed", TreeListing(commit: .emptyTree, rootTree: dRoot, entries: d.reversed()), nil),
            ("a tree twice", TreeListing(commit: .emptyTree, rootTree: dRoot, entries: d + d), .unsafePath),
            (
                "a file and a tree of one name",
                TreeListing(
                    commit: .emptyTree, rootTree: dRoot,
                    entries: [TreeEntry(path: "d", mode: .regular, id: Self.x)] + d),
                .unsafePath
            ),
            (
                "a path through a symlink, hashing",
                TreeListing(
                    commit: .emptyTree, rootTree: symlinkRoot,
                    entries: [
                        TreeEntry(path: "etc", mode: .symlink, id: Self.x),
                        TreeEntry(path: "etc/passwd", mode: .regular, id: Self.x),
                    ]),
                .unsafePath
            ),
            (
                "a path through a file below the root",
                TreeListing(
                    commit: .emptyTree, rootTree: dRoot,
                    entries: d + [TreeEntry(path: "d/x/y", mode: .regular, id: Self.x)]),
                .unsafePath
            ),
            ("a changed blob", TreeListing(commit: .emptyTree, rootTree: dRoot, entries: tampered), .integrity),
            (
                "a changed blob, reversed",
                TreeListing(commit: .emptyTree, rootTree: dRoot, entries: tampered.reversed()), .integrity
            ),
            ("the wrong root", TreeListing(commit: .emptyTree, rootTree: tree, entries: d), .integrity),
            ("a tree '..' holding '../x'", Self.chain(["..", "x"]), .unsafePath),
            ("'a/.git/x'", Self.chain(["a", ".git", "x"]), .unsafePath),
            ("an empty name, 'd/'", Self.chain(["d", ""]), .unsafePath),
            ("a temporary file's name", Self.chain([".smart-sync-tmp-1f"]), .unsafePath),
        ]
        for components in [["..", "x"], ["a", ".git", "x"], [".smart-sync-tmp-1f"]] {
            // Ordered and hashing: the name check alone refuses these.
            let listing = Self.chain(components)
            #expect(listing.inTreeOrder { id, children in TreeObject.id(of: children) == id }, "\(components)")
        }
        for (name, listing, code) in cases {
            let separate = Self.outcome {
                try listing.validate()
                try listing.verify()
            }
            let combined = Self.outcome { try listing.validateAndVerify() }
            #expect(combined == separate, "\(name)")
            #expect(combined.hasPrefix(code.map { "\($0):" } ?? "ok"), "\(name): \(combined)")
        }
    }
}
