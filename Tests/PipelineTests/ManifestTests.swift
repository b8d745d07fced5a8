import SmartSyncGitObjects
import Testing

@testable import SmartSyncPipeline

@Suite struct ManifestTests {
    static let excludes = ExcludeSet(["skip", "conf/*.local"])
    static let one = Manifest.Entry(mode: .regular, id: ObjectID.blob(Array("one".utf8)))
    static let two = Manifest.Entry(mode: .regular, id: ObjectID.blob(Array("two".utf8)))

    /// Manifests sharing entries before and after `path` (in byte order), with `left` and `right` there: whether
    /// they are equal outside ``excludes``.
    static func equal(at path: TreePath, left: Manifest.Entry?, right: Manifest.Entry?) -> Bool {
        var (l, r) = (Manifest(), Manifest())
        for shared in ["a", "m/n", "zz"] as [TreePath] {
            l[shared] = one
            r[shared] = one
        }
        l[path] = left
        r[path] = right
        return l.equals(r, outside: excludes)
    }

    /// Excluded paths: by a component glob (`skip`, at any depth), by an anchored one (`conf/*.local`).
    @Test(arguments: ["skip", "m/skip/f", "conf/x.local"] as [TreePath])
    func anExcludedPathMayDifferInAnyWay(path: TreePath) {
        #expect(Self.excludes.matches(path))
        #expect(Self.equal(at: path, left: Self.one, right: Self.one))
        #expect(Self.equal(at: path, left: Self.one, right: Self.two))  // both, other ids
        #expect(Self.equal(at: path, left: Self.one, right: .init(mode: .executable, id: Self.one.id)))
        #expect(Self.equal(at: path, left: Self.one, right: nil))  // left only
        #expect(Self.equal(at: path, left: nil, right: Self.one))  // right only
    }

    /// Paths no glob matches (a name that only starts like one, a `.local` file outside `conf`, a parent of one).
    @Test(arguments: ["skipped", "m/x.local", "conf", "b"] as [TreePath])
    func aPathNotExcludedMustHoldTheSameEntryOrNone(path: TreePath) {
        #expect(!Self.excludes.matches(path))
        #expect(Self.equal(at: path, left: Self.one, right: Self.one))
        #expect(Self.equal(at: path, left: nil, right: nil))
        #expect(!Self.equal(at: path, left: Self.one, right: Self.two))  // both, another id
        #expect(!Self.equal(at: path, left: Self.one, right: .init(mode: .executable, id: Self.one.id)))  // mode
        #expect(!Self.equal(at: path, left: .init(mode: .symlink, id: Self.one.id), right: Self.one))
        #expect(!Self.equal(at: path, left: Self.one, right: nil))  // left only
        #expect(!Self.equal(at: path, left: nil, right: Self.one))  // right only
    }

    /// Without excludes it is `==`.
    @Test func withoutExcludesItIsEquality() {
        var (l, r) = (Manifest(), Manifest())
        l["a"] = Self.one
        r["a"] = Self.one
        #expect(l.equals(r, outside: ExcludeSet()) && l == r)
        r["b"] = Self.two
        #expect(!l.equals(r, outside: ExcludeSet()) && !r.equals(l, outside: ExcludeSet()))
    }
}
