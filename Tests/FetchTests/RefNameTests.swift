import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import Testing

/// The one rule every transport resolves `--ref` by.
@Suite("RefName")
struct RefNameTests {
    static let sha = "0123456789abcdef0123456789abcdef01234567"

    @Test func namesAreClassified() throws {
        #expect(try RefName(nil).kind == .head)
        #expect(try RefName(nil).text == "HEAD")
        #expect(try RefName("HEAD").kind == .head)
        #expect(try RefName(Self.sha).kind == .commit(ObjectID(hex: Self.sha)!))
        #expect(try RefName(Self.sha.uppercased()).kind == .commit(ObjectID(hex: Self.sha)!))
        #expect(try RefName("refs/tags/v1").kind == .fullName("refs/tags/v1"))
        #expect(try RefName("main").kind == .shortName("main"))
        #expect(try RefName("feature/x").kind == .shortName("feature/x"))
        // 41 hex digits are a name, not an id.
        #expect(try RefName(Self.sha + "8").kind == .shortName(Self.sha + "8"))
    }

    @Test func candidatesFollowGitsOrder() throws {
        #expect(
            try RefName("x").candidates == [
                "refs/x", "refs/tags/x", "refs/heads/x", "refs/remotes/x", "refs/remotes/x/HEAD",
            ])
        #expect(try RefName("refs/heads/x").candidates == ["refs/heads/x"])
        #expect(try RefName(nil).candidates == ["HEAD"])
        #expect(try RefName(Self.sha).candidates.isEmpty)
    }

    @Test func theFirstRefInGitsOrderWins() throws {
        let name = try RefName("x")
        let all = ["refs/x", "refs/tags/x", "refs/remotes/x", "refs/remotes/x/HEAD", "refs/heads/xy", "refs/tags/x/y"]
        #expect(try name.match(in: all, source: "r") == .ref("refs/x"))
        #expect(try name.match(in: all.dropFirst(), source: "r") == .ref("refs/tags/x"))
        #expect(try name.match(in: ["refs/heads/x", "refs/remotes/x"], source: "r") == .ref("refs/heads/x"))
        #expect(try name.match(in: ["refs/remotes/x/HEAD", "refs/remotes/x"], source: "r") == .ref("refs/remotes/x"))
        #expect(try name.match(in: ["refs/remotes/x/HEAD"], source: "r") == .ref("refs/remotes/x/HEAD"))
        #expect(
            try RefName("heads/x").match(in: ["refs/heads/x", "refs/tags/heads/x"], source: "r") == .ref("refs/heads/x")
        )
        #expect(try RefName(nil).match(in: ["HEAD", "refs/heads/main"], source: "r") == .ref("HEAD"))
        // A full name is that ref alone.
        #expect(
            try RefName("refs/tags/x").match(in: ["refs/tags/x", "refs/heads/x"], source: "r") == .ref("refs/tags/x"))
    }

    @Test func aTagAndABranchOfOneNameAreRefusedNamingBoth() throws {
        let error = #expect(throws: SmartSyncError.self) {
            try RefName("x").match(in: ["refs/heads/x", "refs/tags/x"], source: "acme/hyper")
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("refs/tags/x") == true)
        #expect(error?.message.contains("refs/heads/x") == true)
        #expect(error?.message.contains("acme/hyper") == true)
        // Even where git's first rule would decide (refs/x), a name that is both is refused.
        #expect(throws: SmartSyncError.self) {
            try RefName("x").match(in: ["refs/x", "refs/heads/x", "refs/tags/x"], source: "r")
        }
    }

    @Test func aShortSHAIsOnlyTakenWhenNoRefHasTheName() throws {
        let short = try RefName("abc1234")
        #expect(short.mayAbbreviateACommit)
        #expect(try short.match(in: ["refs/heads/abc1234"], source: "r") == .ref("refs/heads/abc1234"))
        #expect(try short.match(in: ["refs/heads/abc12345"], source: "r") == .abbreviatedCommit("abc1234"))
        #expect(try RefName("ABCD").mayAbbreviateACommit)
        #expect(try !RefName("abc").mayAbbreviateACommit)
        #expect(try !RefName("main").mayAbbreviateACommit)
        #expect(try !RefName("refs/heads/abc1234").mayAbbreviateACommit)
        let missing = #expect(throws: SmartSyncError.self) { try RefName("main").match(in: [], source: "acme/r") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("'main'") == true)
        #expect(missing?.message.contains("acme/r") == true)
    }

    @Test(arguments: [
        "", "-x", "+main", "main~1", "HEAD^", "v1^{commit}", "main@{1}", "@", "a..b", "a b", "a:b", "a?", "a*", "a[",
        "a\\b", "x.lock", "x.lock/y", ".x", "a/.x", "x/", "/x", "a//b", "x.", "a\u{7F}", "a\tb", "a\nb", "refs/",
    ])
    func gitWouldNotTakeTheseAsRefNames(_ text: String) {
        let error = #expect(throws: SmartSyncError.self) { try RefName(text) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.hasPrefix("'\(text)' is not a valid ref") == true)
    }

    @Test(arguments: ["main", "feature/x", "v1.2.3", "release-2024_01", "ünï", "a@b", "refs/pull/1/head", "x.y/z"])
    func gitTakesTheseAsRefNames(_ text: String) throws {
        #expect(try RefName(text).text == text)
    }
}
